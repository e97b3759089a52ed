"""torchvision's ColorJitter as an mmcv transform (SEAM/PSA's colour augmentation)."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from torchvision.transforms import ColorJitter as _TVColorJitter

from mmwsss.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast, saturation and hue, as ``torchvision.transforms.ColorJitter``
    (multiplicative factors in ``[1 - x, 1 + x]``, hue shift in ``[-hue, hue]``), applied to the
    BGR uint8 image that ``LoadImageFromFile`` gives. SEAM uses (0.3, 0.3, 0.3, 0.1)."""

    def __init__(self, brightness: float = 0.3, contrast: float = 0.3, saturation: float = 0.3,
                 hue: float = 0.1) -> None:
        self.jitter = _TVColorJitter(brightness, contrast, saturation, hue)

    def transform(self, results: dict) -> dict:
        img = results['img']
        rgb = torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1)
        out = self.jitter(rgb).permute(1, 2, 0).numpy()[..., ::-1]
        results['img'] = np.ascontiguousarray(out)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.jitter})'
