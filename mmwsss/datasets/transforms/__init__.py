from .color_jitter import ColorJitter
from .formatting import PackCAMInputs
from .loading import LoadImageLevelLabels

__all__ = ['ColorJitter', 'LoadImageLevelLabels', 'PackCAMInputs']
