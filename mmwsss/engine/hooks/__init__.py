from .channels_last_hook import ChannelsLastHook, to_channels_last
from .checkpoint_on_interrupt_hook import CheckpointOnInterruptHook

__all__ = ['ChannelsLastHook', 'CheckpointOnInterruptHook', 'to_channels_last']
