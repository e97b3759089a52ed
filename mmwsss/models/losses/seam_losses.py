"""SEAM's equivariant regularisation losses (Wang et al. 2020; YudeWang/SEAM train_SEAM.py).

All take CAM stacks (N, 1 + C, H, W), background first, already max-normalised and masked by
the image-level label, the transformed branch's maps brought to the other branch's geometry.
"""
import torch
import torch.nn as nn

from mmwsss.registry import MODELS
from ..utils import keep_argmax_foreground


class _WeightedLoss(nn.Module):

    def __init__(self, loss_weight: float, loss_name: str) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name


@MODELS.register_module()
class EquivariantRegularizationLoss(_WeightedLoss):
    """ER: mean |T(CAM(img)) − CAM(T(img))| over the foreground channels (``loss_er``)."""

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_er') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, cam1: torch.Tensor, cam2: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * (cam1[:, 1:] - cam2[:, 1:]).abs().mean()


@MODELS.register_module()
class EquivariantCrossRegularizationLoss(_WeightedLoss):
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


@MODELS.register_module()
class AdaptiveMinPoolingLoss(_WeightedLoss):
    """Mean of the lowest quarter of per-pixel max foreground scores, after ReLU.

    In the official code only (``train_SEAM.py:adaptive_min_pooling_loss``, applied to the
    label-masked PCM output, not in the paper): pushes the least activated pixels to zero; its
    comment says it shifts the best background threshold rather than the best mIoU.
    """

    def __init__(self, ratio: float = 0.25, loss_weight: float = 1.0,
                 loss_name: str = 'loss_min') -> None:
        super().__init__(loss_weight, loss_name)
        self.ratio = ratio

    def forward(self, fg_cams: torch.Tensor) -> torch.Tensor:
        n = fg_cams.shape[0]
        top = fg_cams.amax(dim=1).flatten(1)
        k = max(1, int(top.shape[1] * self.ratio))
        low = torch.relu(top.topk(k, dim=1, largest=False).values)
        return self.loss_weight * low.sum() / (k * n)
