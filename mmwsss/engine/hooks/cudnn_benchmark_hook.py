"""cuDNN autotuning for the training loop only: fixed crops there, many image sizes in
evaluation."""
import logging
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmwsss.registry import HOOKS


@HOOKS.register_module()
class CudnnBenchmarkHook(Hook):
    """Set ``torch.backends.cudnn.benchmark`` per loop: ``train`` while training, ``eval``
    during validation and testing; the value from before the run is restored after it.

    With benchmark mode cuDNN times its convolution algorithms on the first input of each shape
    and keeps the fastest. Training batches are padded to the crop size, so that happens once;
    VOC and COCO evaluation images come in hundreds of sizes (times the CAM scales), where
    timing each new shape costs more than it saves. MMEngine's ``env_cfg.cudnn_benchmark``
    sets one value for the whole run (mmseg: True; the mmwsss configs: False, for their
    inference paths). ``tools/train.py`` adds this hook unless a config lists its own.

    A run asked to be reproducible (``randomness=dict(deterministic=True)``, which sets
    ``cudnn.deterministic``) keeps benchmark mode off: the algorithm it picks by timing may
    differ from run to run.
    """

    priority = 'VERY_HIGH'

    def __init__(self, train: bool = True, eval: bool = False) -> None:
        self.train, self.eval = bool(train), bool(eval)
        self._before_run: Optional[bool] = None
        self._training = False
        self._said_deterministic = False

    def _set(self, value: bool) -> None:
        if value and torch.backends.cudnn.deterministic:
            if not self._said_deterministic:
                print_log('CudnnBenchmarkHook: cuDNN benchmark mode stays off, as the run is '
                          'deterministic (randomness.deterministic=True)', logger='current',
                          level=logging.WARNING)
                self._said_deterministic = True
            value = False
        torch.backends.cudnn.benchmark = value

    def before_run(self, runner) -> None:
        self._before_run = torch.backends.cudnn.benchmark

    def before_train(self, runner) -> None:
        self._training = True
        self._set(self.train)

    def after_train(self, runner) -> None:
        self._training = False

    def before_val(self, runner) -> None:
        self._set(self.eval)

    def after_val(self, runner) -> None:
        # validation inside training hands back to training; a standalone one to the run's
        self._set(self.train if self._training else self._before_run)

    def before_test(self, runner) -> None:
        self._set(self.eval)

    def after_run(self, runner) -> None:
        if self._before_run is not None:
            self._set(self._before_run)
