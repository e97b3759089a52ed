"""MMEngine's DistributedDataParallel wrapper for CPU processes and channels_last models."""
from mmengine.model import MMDistributedDataParallel
from torch import nn

from mmwsss.registry import MODEL_WRAPPERS
from .hooks.channels_last_hook import to_channels_last


@MODEL_WRAPPERS.register_module()
class DistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` with two additions.

    - A CPU module (gloo process group) is wrapped without ``device_ids``: MMEngine's Runner
      always passes ``device_ids=[LOCAL_RANK]``, which torch refuses for a CPU module.
    - ``channels_last=True`` converts the module (``to_channels_last``) *before* DDP is
      built. DDP lays out its gradient buckets by the parameters' strides when it is built;
      converting afterwards (a hook in ``before_run``) makes it average the conv-weight
      gradients with the NCHW layout read as NHWC, i.e. wrong gradients.

    ``channels_last = True`` in a config selects this wrapper with the option
    (``mmwsss.apis.apply_training_precision``).
    """

    def __init__(self, module: nn.Module, device_ids=None, channels_last: bool = False,
                 **kwargs) -> None:
        if channels_last:
            to_channels_last(module)
        if not any(p.is_cuda for p in module.parameters()):
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


# the earlier name, for configs that set model_wrapper_cfg to it
MODEL_WRAPPERS.register_module(name='CPUDistributedDataParallel', module=DistributedDataParallel)
CPUDistributedDataParallel = DistributedDataParallel
