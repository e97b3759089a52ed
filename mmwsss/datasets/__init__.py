from .coco_image_level import COCO_CLASSES, COCOImageLevelDataset
from .pseudo_label import (COCOPseudoLabelDataset, PseudoLabelDataset,
                           SyntheticPseudoLabelDataset)
from .samplers import SameSizeBatchSampler, batches_by_image_size
from .synthetic import SYNTHETIC_CLASSES, SyntheticVOCDataset, make_synthetic_voc
from .transforms import *  # noqa: F401,F403
from .voc_image_level import VOC_CLASSES, VOCImageLevelDataset, voc_palette

__all__ = ['COCO_CLASSES', 'COCOImageLevelDataset', 'COCOPseudoLabelDataset', 'PseudoLabelDataset',
           'SameSizeBatchSampler', 'batches_by_image_size',
           'SyntheticPseudoLabelDataset', 'SYNTHETIC_CLASSES', 'SyntheticVOCDataset',
           'make_synthetic_voc', 'VOC_CLASSES', 'VOCImageLevelDataset', 'voc_palette']
