"""DistributedDataParallel for CPU processes (gloo), which MMEngine's default wrapper is not."""
from mmengine.model import MMDistributedDataParallel

from mmwsss.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` without ``device_ids``: MMEngine's Runner always passes
    ``device_ids=[LOCAL_RANK]``, which torch refuses for a CPU module."""

    def __init__(self, module, device_ids=None, **kwargs) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)
