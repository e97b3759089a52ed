"""Equivariant cross regularisation (ECR) of SEAM (Wang et al. 2020; YudeWang/SEAM train_SEAM.py).

It takes CAM stacks (N, 1 + C, H, W), background first, already min-max-normalised (SEAM's
``max_norm``) and masked by the image-level label, the transformed branch's maps brought to
the other branch's geometry.
"""
import torch

from mmwsss.registry import MODELS
from ..utils import keep_argmax_foreground
from .weighted_loss import WeightedLoss


@MODELS.register_module()
class EquivariantCrossRegularizationLoss(WeightedLoss):
    """ECR: the PCM-refined CAM of each branch against the other branch's raw CAM (reduced
    to its top class per pixel, detached), averaged over the hardest ``topk_ratio`` of all
    channel×pixel entries of each image (SEAM's OHEM, ``torch.topk`` over 20%); the two
    directions are summed (``loss_ecr``)."""

    def __init__(self, topk_ratio: float = 0.2, loss_weight: float = 1.0,
                 loss_name: str = 'loss_ecr') -> None:
        super().__init__(loss_weight, loss_name)
        self.topk_ratio = topk_ratio

    def hard_mean(self, err: torch.Tensor) -> torch.Tensor:
        flat = err.flatten(1)
        k = max(1, int(flat.shape[1] * self.topk_ratio))
        return flat.topk(k, dim=1).values.mean()

    def forward(self, cam1: torch.Tensor, cam2: torch.Tensor, refined1: torch.Tensor,
                refined2: torch.Tensor) -> torch.Tensor:
        t1 = (keep_argmax_foreground(cam2.detach()) - refined1).abs()
        t2 = (keep_argmax_foreground(cam1.detach()) - refined2).abs()
        return self.loss_weight * (self.hard_mean(t1) + self.hard_mean(t2))
