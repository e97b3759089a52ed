"""Ctrl-C during training saves the iteration it interrupts, so nothing is lost."""
import os
import os.path as osp
import signal
import sys
import threading

from mmengine.dist import get_world_size
from mmengine.hooks import Hook

from mmwsss.registry import HOOKS
from mmwsss.utils.io import write_text_atomic


@HOOKS.register_module()
class CheckpointOnInterruptHook(Hook):
    """On Ctrl-C (SIGINT), finish the running iteration (and the validation that follows it,
    if one is due, so no validation is skipped), save it as ``iter_N.pth`` (with the optimiser
    and scheduler, and as ``last_checkpoint``), then stop with ``KeyboardInterrupt``:
    ``tools/train.py CONFIG --resume`` goes on from there. Without it a run loses everything
    since its last periodic checkpoint (``val_interval`` iterations in the configs, up to 20k).
    A second Ctrl-C stops at once; so does Ctrl-C before training starts (building, loading).

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
        print('\nCtrl-C: stopping after this iteration (and its validation, if one is due) '
              'with a checkpoint of it; Ctrl-C again to stop at once', file=sys.stderr,
              flush=True)

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

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Stop here, before the next iteration: the interrupted one and its validation
        (which runs after ``after_train_iter``) are done."""
        if not self._requested:
            return
        self._restore()
        done = runner.iter
        if done == 0:  # nothing trained yet: nothing to save
            raise KeyboardInterrupt
        path = osp.join(runner.work_dir, f'iter_{done}.pth')
        if runner.message_hub.get_info('last_ckpt') != path:  # CheckpointHook did not save it
            runner.save_checkpoint(runner.work_dir, osp.basename(path), save_optimizer=True,
                                   save_param_scheduler=True, by_epoch=False,
                                   meta=dict(epoch=runner.epoch, iter=done))
        write_text_atomic(path, osp.join(runner.work_dir, 'last_checkpoint'))
        runner.logger.warning(f'interrupted after iteration {done}: saved {path}; go on with '
                              'tools/train.py CONFIG --resume')
        raise KeyboardInterrupt

    def after_train(self, runner) -> None:
        self._training = False
        self._restore()
