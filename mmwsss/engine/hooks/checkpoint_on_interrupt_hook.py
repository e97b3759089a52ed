"""Ctrl-C during training saves the iteration it interrupts, so nothing is lost."""
import os
import os.path as osp
import signal
import sys
import threading

import torch
from mmengine.dist import all_reduce, barrier, get_rank, get_world_size, is_main_process
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

    Distributed runs: torchrun (``tools/dist_train.sh``) passes a Ctrl-C on to every rank as
    SIGINT; on Slurm, ``scancel --signal=INT JOBID`` sends it (srun itself turns Ctrl-C into a
    task report, and two into SIGINT followed by a kill). The ranks may get the signal at
    different iterations, and a rank that stopped alone would leave the others waiting in a
    collective. So the ranks agree every ``sync_interval`` iterations (one all-reduce of a
    flag; one host-device sync on NCCL): all stop at the first such iteration after any of
    them got the signal, rank 0 saves, and all leave after it has. torchrun waits 30 s for its workers before it kills them, so
    ``sync_interval`` iterations (and a validation, if one is due) must fit in that.
    SIGTERM (a launcher tearing a failed run down, Slurm's time limit) keeps its default.

    The handler is set when the hook is built, before the data loader starts its worker
    processes, which inherit it and ignore the signal: a worker killed by Ctrl-C would leave
    the main process waiting for a batch that never comes. Iteration-based loops only (an
    epoch-based run resumes at an epoch's start). ``tools/train.py`` adds the hook to every
    config.
    """

    priority = 'LOWEST'  # after CheckpointHook, which may save this iteration itself

    def __init__(self, sync_interval: int = 10) -> None:
        self.sync_interval = max(1, int(sync_interval))
        self._pid = os.getpid()
        self._world_size = get_world_size()
        self._training = self._requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum, frame) -> None:
        if os.getpid() != self._pid:  # a data loader worker: the main process decides
            return
        if not self._training or self._requested:
            self._restore()
            raise KeyboardInterrupt
        self._requested = True
        if get_rank() == 0:
            when = ('this iteration' if self._world_size == 1 else
                    f'at most {self.sync_interval} iterations (all ranks together)')
            print(f'\nCtrl-C: stopping after {when} (and its validation, if one is due) with a '
                  'checkpoint of it; Ctrl-C again to stop at once', file=sys.stderr,
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

    def _stop_now(self, runner) -> bool:
        """Whether to stop before this iteration; in a distributed run, whether any rank got
        Ctrl-C, asked of all ranks at the same iterations."""
        if self._world_size == 1:
            return self._requested
        if runner.iter % self.sync_interval:
            return False
        flag = torch.tensor([float(self._requested)])
        all_reduce(flag, op='max')
        return bool(flag.item())

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Stop here, before the next iteration: the interrupted one and its validation
        (which runs after ``after_train_iter``) are done."""
        if not self._training or not self._stop_now(runner):
            return
        self._restore()
        done = runner.iter
        if done == 0:  # nothing trained yet: nothing to save
            raise KeyboardInterrupt
        path = osp.join(runner.work_dir, f'iter_{done}.pth')
        # CheckpointHook may have saved this iteration (rank 0 knows; save_checkpoint and the
        # message hub's last_ckpt are rank 0's)
        if runner.message_hub.get_info('last_ckpt') != path:
            runner.save_checkpoint(runner.work_dir, osp.basename(path), save_optimizer=True,
                                   save_param_scheduler=True, by_epoch=False,
                                   meta=dict(epoch=runner.epoch, iter=done))
        if is_main_process():
            write_text_atomic(path, osp.join(runner.work_dir, 'last_checkpoint'))
            runner.logger.warning(f'interrupted after iteration {done}: saved {path}; go on '
                                  'with tools/train.py CONFIG --resume')
        if self._world_size > 1:
            barrier()  # no rank leaves (and makes the launcher stop the rest) before the save
            print(f'[rank {get_rank()}] stopped after iteration {done}', file=sys.stderr,
                  flush=True)
        raise KeyboardInterrupt

    def after_train(self, runner) -> None:
        self._training = False
        self._restore()
