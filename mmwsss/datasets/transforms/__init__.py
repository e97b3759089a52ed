from .color_jitter import ColorJitter
from .formatting import PackCAMInputs
from .loading import (LoadAnnotations, LoadAnnotationsIfAny, LoadImageFromFileNamed,
                      LoadImageLevelLabels, check_label_map)

__all__ = ['ColorJitter', 'LoadAnnotations', 'LoadAnnotationsIfAny', 'LoadImageFromFileNamed',
           'LoadImageLevelLabels', 'PackCAMInputs', 'check_label_map']
