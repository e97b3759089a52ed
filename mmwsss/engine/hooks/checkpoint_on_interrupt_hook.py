"""Ctrl-C during training saves the iteration it interrupts, so nothing is lost."""
import os
import os.path as osp
import signal
import sys
import threading

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmwsss.registry import HOOKS


@HOOKS.register_module()
class CheckpointOnInterruptHook(Hook):
    """On Ctrl-C (SIGINT), finish the running iteration, save it as ``iter_N.pth`` (with the
    optimiser and scheduler, and as ``last_checkpoint``), then stop with
    ``KeyboardInterrupt``: ``tools/train.py CONFIG --resume`` goes on from there. Without it
    a run loses everything since its last periodic checkpoint (``val_interval`` iterations
    in the configs, up to 20k). A second Ctrl-C stops at once; Ctrl-C outside the training
    loop (validation, building) stops at once too.

    The handler is set when the hook is built, before the data loader starts its worker
    processes, which inherit it and ignore the signal: a worker killed by Ctrl-C would leave
    the main process waiting for a batch that never comes. Only single-process runs: the
    ranks of a distributed run would each stop at another iteration (their launcher stops
    them), and iteration-based loops (an epoch-based run resumes at an epoch's start).
    ``tools/train.py`` adds the hook to every config.
    """

    priority = 'LOWEST'  # after CheckpointHook, which may save this iteration itself

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._training = self._requested = False
        self._previous = None
        if get_world_size() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        if os.getpid() != self._pid:  # a data loader worker: the main process decides
            return
        if not self._training or self._requested:
            self._restore()
            raise KeyboardInterrupt
        self._requested = True
        print('\nCtrl-C: stopping after this iteration (and a validation, if one runs) with '
              'a checkpoint of it; Ctrl-C again to stop at once', file=sys.stderr, flush=True)

    def _restore(self) -> None:
        if self._previous is not None and os.getpid() == self._pid:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def before_train(self, runner) -> None:
        from mmengine.runner import IterBasedTrainLoop
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            self._training = True
        else:  # an epoch restarts on resume: the iteration could not be picked up again
            self._restore()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._requested:
            return
        name = f'iter_{runner.iter + 1}.pth'
        path = osp.join(runner.work_dir, name)
        if not osp.isfile(path):  # CheckpointHook did not save this iteration
            runner.save_checkpoint(runner.work_dir, name, save_optimizer=True,
                                   save_param_scheduler=True, by_epoch=False)
        with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
            f.write(path)
        runner.logger.warning(f'interrupted after iteration {runner.iter + 1}: saved {path}; '
                              'go on with tools/train.py CONFIG --resume')
        self._restore()
        raise KeyboardInterrupt

    def after_train(self, runner) -> None:
        self._training = False
        self._restore()
