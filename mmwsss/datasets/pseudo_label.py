"""Images of a dataset with labels from a pseudo-label folder, for stock mmseg training."""
import os.path as osp
from typing import List

from mmwsss.registry import DATASETS
from .coco_image_level import COCO_CLASSES
from .synthetic import SYNTHETIC_CLASSES
from .voc_image_level import VOC_CLASSES, VOCImageLevelDataset, voc_palette


@DATASETS.register_module()
class PseudoLabelDataset(VOCImageLevelDataset):
    """A segmentation dataset whose ``seg_map_path`` is a folder of pseudo-labels.

    Images come from the VOC-layout tree (``data_prefix.img_path``), labels from
    ``data_prefix.seg_map_path`` = the folder ``tools/make_pseudo_labels.py`` wrote; a stock
    mmseg config trains on it by changing ``seg_map_path`` only. Every image of the split
    must have a label: missing ones are an error that names them (a half-finished label run
    should not silently train on fewer images). Classes are VOC's; the synthetic set and COCO
    have ``SyntheticPseudoLabelDataset`` and ``COCOPseudoLabelDataset`` (mmseg's ``metainfo``
    argument can only select a subset of a dataset's classes).
    """

    def load_data_list(self) -> List[dict]:
        label_dir = self.data_prefix.get('seg_map_path', '')
        if not osp.isdir(label_dir):
            raise FileNotFoundError(
                f'pseudo-label folder {label_dir!r} does not exist; write it with '
                'tools/make_pseudo_labels.py CONFIG CKPT --out DIR')
        return super().load_data_list()


@DATASETS.register_module()
class SyntheticPseudoLabelDataset(PseudoLabelDataset):
    """``PseudoLabelDataset`` with the synthetic set's classes."""
    METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=voc_palette(len(SYNTHETIC_CLASSES)))


@DATASETS.register_module()
class COCOPseudoLabelDataset(PseudoLabelDataset):
    """``PseudoLabelDataset`` with COCO's 80 classes + background."""
    METAINFO = dict(classes=COCO_CLASSES, palette=voc_palette(len(COCO_CLASSES)))


__all__ = ['COCOPseudoLabelDataset', 'PseudoLabelDataset', 'SyntheticPseudoLabelDataset',
           'VOC_CLASSES']
