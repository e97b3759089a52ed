"""MMEngine's ``AmpOptimWrapper`` that resumes across a change of training precision."""
import logging

from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper as _AmpOptimWrapper

from mmwsss.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(_AmpOptimWrapper):
    """``AmpOptimWrapper`` whose loss scaler starts afresh from a checkpoint without scaler
    state.

    A bf16 run saves the state of its disabled scaler (an empty dict); resuming it in fp16
    (``--resume --precision fp16``) made ``GradScaler.load_state_dict`` raise. The fp16 run
    now starts at the scaler's initial scale, with a warning, and the optimiser state loads.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        scaler = state_dict.get('loss_scaler')
        if scaler is not None and not scaler and self.loss_scaler.is_enabled():
            state_dict = {k: v for k, v in state_dict.items() if k != 'loss_scaler'}
            print_log('the checkpoint has no loss-scaler state (saved in bf16 or fp32): the '
                      'fp16 loss scale starts at its initial value', logger='current',
                      level=logging.WARNING)
        super().load_state_dict(state_dict)
