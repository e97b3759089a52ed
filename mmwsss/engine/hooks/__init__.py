from .channels_last_hook import ChannelsLastHook, to_channels_last

__all__ = ['ChannelsLastHook', 'to_channels_last']
