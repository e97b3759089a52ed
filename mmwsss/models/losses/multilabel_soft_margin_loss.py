"""Multi-label soft margin loss: the image-level classification loss of CAM methods."""
import torch
import torch.nn.functional as F

from mmwsss.registry import MODELS
from .weighted_loss import WeightedLoss


@MODELS.register_module()
class MultiLabelSoftMarginLoss(WeightedLoss):
    """Mean over classes of per-class binary logistic losses, averaged over the batch.

    Same as ``torch.nn.MultiLabelSoftMarginLoss`` (what CAM, PSA and SEAM train with).

    Args:
        loss_weight: multiplier of the loss.
        loss_name: key in the loss dict (must contain ``loss`` to be back-propagated).
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_cls') -> None:
        super().__init__(loss_weight, loss_name)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.shape != targets.shape:
            raise ValueError(f'logits {tuple(logits.shape)} and multi-hot targets '
                             f'{tuple(targets.shape)} must have the same shape')
        return self.loss_weight * F.multilabel_soft_margin_loss(logits, targets.to(logits.dtype))
