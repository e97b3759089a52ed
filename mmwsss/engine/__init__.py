from .cpu_ddp import CPUDistributedDataParallel
from .hooks import ChannelsLastHook, to_channels_last
from .optimizers import GroupedOptimWrapperConstructor, merge_param_groups

__all__ = ['CPUDistributedDataParallel', 'ChannelsLastHook', 'to_channels_last',
           'GroupedOptimWrapperConstructor', 'merge_param_groups']
