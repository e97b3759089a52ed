from .color_jitter import ColorJitter
from .formatting import PackCAMInputs
from .loading import LoadAnnotationsIfAny, LoadImageLevelLabels

__all__ = ['ColorJitter', 'LoadAnnotationsIfAny', 'LoadImageLevelLabels', 'PackCAMInputs']
