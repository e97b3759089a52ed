"""Equivariant regularisation (ER) of SEAM (Wang et al. 2020; YudeWang/SEAM train_SEAM.py).

It takes CAM stacks (N, 1 + C, H, W), background first, already min-max-normalised (SEAM's
``max_norm``) and masked by the image-level label, the transformed branch's maps brought to
the other branch's geometry.
"""
import torch

from mmwsss.registry import MODELS
from .weighted_loss import WeightedLoss


@MODELS.register_module()
class EquivariantRegularizationLoss(WeightedLoss):
    """ER: mean |T(CAM(img)) − CAM(T(img))| over the foreground channels (``loss_er``)."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_er') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, cam1: torch.Tensor, cam2: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * (cam1[:, 1:] - cam2[:, 1:]).abs().mean()
