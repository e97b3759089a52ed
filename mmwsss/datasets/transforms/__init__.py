from .annotations import LoadAnnotations, LoadAnnotationsIfAny, check_label_map
from .color_jitter import ColorJitter
from .formatting import PackCAMInputs
from .image_level_labels import LoadImageLevelLabels
from .loading import LoadImageFromFileNamed

__all__ = ['ColorJitter', 'LoadAnnotations', 'LoadAnnotationsIfAny', 'LoadImageFromFileNamed',
           'LoadImageLevelLabels', 'PackCAMInputs', 'check_label_map']
