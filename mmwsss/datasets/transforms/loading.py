"""Loading image-level labels, and masks where an image has one."""
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations

from mmwsss.registry import TRANSFORMS
from ..voc_image_level import image_labels_from_mask


@TRANSFORMS.register_module()
class LoadImageLevelLabels(BaseTransform):
    """Put the image-level labels in ``results['img_labels']`` (foreground class indices).

    Labels given by the dataset (its labels file) are kept; otherwise they are read off
    ``gt_seg_map``, so this must then come after ``LoadAnnotations`` and before any crop.
    """

    def __init__(self, ignore_index: int = 255) -> None:
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if 'img_labels' not in results:
            if 'gt_seg_map' not in results:
                raise KeyError(
                    f'{results.get("img_path")}: no image-level labels (no labels file) and no '
                    'mask loaded; put LoadAnnotations before LoadImageLevelLabels or give the '
                    'dataset an img_labels_file')
            results['img_labels'] = image_labels_from_mask(
                results['gt_seg_map'], self.ignore_index)
        return results


@TRANSFORMS.register_module()
class LoadAnnotationsIfAny(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` for images that have a mask; images without one (no
    ``seg_map_path``: a dataset with ``require_masks=False``) pass unchanged.

    The label-generation split uses it: pseudo-labels need only the images and their
    image-level labels, while the same pipeline scores CAMs against the masks where a split
    has them (``tools/test.py --split train`` requires them).
    """

    def transform(self, results: dict) -> dict:
        if not results.get('seg_map_path'):
            return results
        return super().transform(results)
