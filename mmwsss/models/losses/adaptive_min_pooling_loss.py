"""SEAM's adaptive min-pooling loss (YudeWang/SEAM train_SEAM.py, official code only)."""
import torch

from mmwsss.registry import MODELS
from .weighted_loss import WeightedLoss


@MODELS.register_module()
class AdaptiveMinPoolingLoss(WeightedLoss):
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
