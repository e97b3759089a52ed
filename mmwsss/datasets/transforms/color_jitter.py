"""torchvision's ColorJitter as an mmcv transform (SEAM/PSA's colour augmentation)."""
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image
from torchvision.transforms import ColorJitter as _TVColorJitter

from mmwsss.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast, saturation and hue, as ``torchvision.transforms.ColorJitter``
    (multiplicative factors in ``[1 - x, 1 + x]``, hue shift in ``[-hue, hue]``), applied to the
    BGR uint8 image that ``LoadImageFromFile`` gives. SEAM uses (0.3, 0.3, 0.3, 0.1).

    The jitter runs on a PIL image, as in SEAM's ``train_SEAM.py`` (``transforms.ColorJitter``
    on the PIL image of ``VOC12ClsDataset``): the same arithmetic as the official pipeline,
    and about twice as fast in a loader worker as torchvision's tensor path
    (``benchmarks/data_throughput.py``).
    """

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.1) -> None:
        self.jitter = _TVColorJitter(brightness, contrast, saturation, hue)

    def transform(self, results: dict) -> dict:
        rgb = Image.fromarray(np.ascontiguousarray(results['img'][..., ::-1]))
        results['img'] = np.ascontiguousarray(np.asarray(self.jitter(rgb))[..., ::-1])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.jitter})'
