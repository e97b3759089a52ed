"""Spatial transforms for equivariant (siamese) CAM training."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmwsss.registry import MODELS


@MODELS.register_module()
class RescaleTransform(nn.Module):
    """Bilinear rescale by ``scale`` (SEAM's affine transform: 0.3, ``align_corners=True``).

    The same call transforms an image batch and a CAM batch, which is what an equivariance
    constraint compares: CAM(T(img)) against T(CAM(img)).
    """

    def __init__(self, scale: float = 0.3, align_corners: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode='bilinear',
                             align_corners=self.align_corners)
