"""Loading masks (where an image has one), checked: one class index per pixel, the image's
size, the dataset's classes (see ``loading.py``)."""
import warnings
from typing import Optional

import numpy as np
from mmseg.datasets.transforms import LoadAnnotations as MMSegLoadAnnotations

from mmwsss.registry import TRANSFORMS
from mmwsss.utils.exif import TRANSPOSING_ORIENTATIONS, read_orientation


@TRANSFORMS.register_module(name='LoadAnnotations')
class LoadAnnotations(MMSegLoadAnnotations):
    """mmseg's ``LoadAnnotations``, checked: the mask must decode to one class index per
    pixel (not colours), have its image's size, and hold only classes of the dataset
    (``num_classes`` of the data info) or ``ignore_index``. Errors name the mask file."""

    def __init__(self, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        try:
            results = super().transform(results)
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 -- re-raised with the file name
            raise ValueError(f'mask {path} cannot be read ({type(e).__name__}: {e}); the file '
                             'may be truncated or not a PNG') from e
        # ori_shape: the image as loaded (in mmseg's TTA pipeline masks load after a resize)
        check_label_map(results['gt_seg_map'], path, results.get('ori_shape'),
                        results.get('num_classes'), self.ignore_index,
                        img_path=results.get('img_path'))
        return results


def check_label_map(seg: np.ndarray, path: str, image_shape=None, num_classes=None,
                    ignore_index: int = 255, img_path: Optional[str] = None) -> None:
    """``ValueError`` naming ``path`` if ``seg`` cannot be the label map of an image of
    ``image_shape`` (height, width) with ``num_classes`` classes. A mask that fits the image
    turned back by its EXIF orientation (``img_path``) is said to be one."""
    if seg.ndim != 2:
        raise ValueError(f'mask {path} decodes to shape {seg.shape}: a label PNG holds one '
                         'class index per pixel (palette or grayscale), not colours')
    if image_shape is not None and seg.shape != tuple(image_shape[:2]):
        raise ValueError(f'mask {path} is {seg.shape[1]}x{seg.shape[0]} but its image is '
                         f'{image_shape[1]}x{image_shape[0]} (width x height)'
                         f'{_exif_hint(img_path, seg.shape) if img_path else ""}')
    if num_classes:
        bad = np.unique(seg[(seg >= num_classes) & (seg != ignore_index)])
        if bad.size:
            raise ValueError(f'mask {path} holds values {bad[:8].tolist()}: labels are 0..'
                             f'{num_classes - 1} (background 0) or {ignore_index} (ignore)')


def _exif_hint(img_path: str, mask_shape) -> str:
    info = read_orientation(img_path)
    if info is None or info[1] not in TRANSPOSING_ORIENTATIONS or info[0] != mask_shape[::-1]:
        return ''
    return (f': {img_path} is stored {info[0][0]}x{info[0][1]} with EXIF orientation '
            f'{info[1]}, which LoadImageFromFile applies, and the mask follows the stored '
            'pixels. Turn the mask as the image loads (mmwsss.utils.exif.apply_orientation; '
            'tools/dataset_converters/coco_to_semantic.py does this for COCO) or load the '
            "images unturned (LoadImageFromFile color_type='color_ignore_orientation')")


@TRANSFORMS.register_module()
class LoadAnnotationsIfAny(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` for images that have a mask; images without one (no
    ``seg_map_path``: a dataset with ``require_masks=False``) pass unchanged.

    The label-generation split uses it: pseudo-labels need only the images and their
    image-level labels, while the same pipeline scores CAMs against the masks where a split
    has them (``tools/test.py --split train`` requires them). A mask that fails
    ``LoadAnnotations``' checks is dropped with a warning that says why: the image is still
    labelled, and scoring stops at it, naming it as an image without a mask.
    """

    def transform(self, results: dict) -> dict:
        if not results.get('seg_map_path'):
            return results
        try:
            return super().transform(results)
        except ValueError as e:  # labels need no mask; scoring names the image without one
            warnings.warn(f'{e}; the image goes on without its mask')
            results['mask_error'] = str(e)  # for whatever needs the mask later to say why
            results['seg_map_path'] = None
            results.pop('gt_seg_map', None)
            results['seg_fields'] = [f for f in results.get('seg_fields', [])
                                     if f != 'gt_seg_map']
            return results
