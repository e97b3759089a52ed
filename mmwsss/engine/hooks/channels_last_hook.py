"""Train convolutional models in the channels_last (NHWC) memory layout."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from mmwsss.registry import HOOKS


def to_channels_last(model: nn.Module) -> nn.Module:
    """Put ``model``'s 4-D parameters and buffers in channels_last, and make its data
    preprocessor (if any) hand out channels_last inputs, so cuDNN runs NHWC kernels (faster
    under bf16 on tensor-core GPUs) without a layout conversion at the first convolution.
    The math is unchanged. Returns ``model``."""
    model.to(memory_format=torch.channels_last)
    preprocessor = getattr(model, 'data_preprocessor', None)
    if isinstance(preprocessor, nn.Module) and not getattr(preprocessor, '_channels_last', 0):
        preprocessor.register_forward_hook(_inputs_to_channels_last)
        preprocessor._channels_last = True
    return model


def _inputs_to_channels_last(module, args, data):
    inputs = data.get('inputs') if isinstance(data, dict) else None
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        data['inputs'] = inputs.contiguous(memory_format=torch.channels_last)
    return data


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Switch the model to channels_last before training (``to_channels_last``).

    Set by ``channels_last = True`` in a config (``mmwsss.apis.apply_training_precision``
    adds the hook), or listed in ``custom_hooks`` directly. It runs before any other hook, when
    the optimiser is already built; parameters keep their identity, so the optimiser is
    unaffected.

    A model wrapped in DistributedDataParallel must be converted before the wrapper is built
    (DDP's gradient buckets follow the parameters' layout at that time; converting later
    averages scrambled conv gradients): ``mmwsss.DistributedDataParallel`` with
    ``channels_last=True`` does that, and this hook refuses a wrapped model that is not yet
    channels_last.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        if is_model_wrapper(runner.model):
            if not is_channels_last(runner.model.module):
                raise RuntimeError(
                    'ChannelsLastHook: the model was wrapped for distributed training before '
                    'it was converted to channels_last, so DDP would average wrong gradients; '
                    "use model_wrapper_cfg=dict(type='mmwsss.DistributedDataParallel', "
                    "channels_last=True) (set by channels_last=True in the config)")
            model = runner.model.module
        else:
            model = runner.model
        to_channels_last(model)


def is_channels_last(model: nn.Module) -> bool:
    """Whether every 4-D parameter of ``model`` is in the channels_last layout."""
    return all(p.is_contiguous(memory_format=torch.channels_last)
               for p in model.parameters() if p.dim() == 4)
