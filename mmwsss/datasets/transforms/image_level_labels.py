"""The image-level labels of an image: from the dataset's labels file or read off its mask."""
from mmcv.transforms import BaseTransform

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
            if results.get('mask_error'):  # LoadAnnotationsIfAny dropped a bad mask
                raise ValueError(f'{results.get("img_path")}: no image-level labels (no labels '
                                 f'file), and its mask cannot be used: {results["mask_error"]}')
            if 'gt_seg_map' not in results:
                raise KeyError(
                    f'{results.get("img_path")}: no image-level labels (no labels file) and no '
                    'mask loaded; put LoadAnnotations before LoadImageLevelLabels or give the '
                    'dataset an img_labels_file')
            results['img_labels'] = image_labels_from_mask(
                results['gt_seg_map'], self.ignore_index)
        return results
