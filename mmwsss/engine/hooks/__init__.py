from .channels_last_hook import ChannelsLastHook, to_channels_last
from .checkpoint_on_interrupt_hook import CheckpointOnInterruptHook
from .cudnn_benchmark_hook import CudnnBenchmarkHook

__all__ = ['ChannelsLastHook', 'CheckpointOnInterruptHook', 'CudnnBenchmarkHook',
           'to_channels_last']
