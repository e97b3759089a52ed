from .distributed_data_parallel import CPUDistributedDataParallel, DistributedDataParallel
from .hooks import (ChannelsLastHook, CheckpointOnInterruptHook, CudnnBenchmarkHook,
                    to_channels_last)
from .optimizers import AmpOptimWrapper, GroupedOptimWrapperConstructor, merge_param_groups

__all__ = ['AmpOptimWrapper', 'CPUDistributedDataParallel', 'DistributedDataParallel',
           'ChannelsLastHook', 'CheckpointOnInterruptHook', 'CudnnBenchmarkHook',
           'to_channels_last', 'GroupedOptimWrapperConstructor', 'merge_param_groups']
