"""Multi-label contrastive loss of the CLIP + SAM prompt learning (Yang & Gong, "Foundation
Model Assisted Weakly Supervised Semantic Segmentation"; official code HAL-42/FMA-WSSS)."""
from typing import Optional

import torch
from torch import Tensor, nn

from mmwsss.registry import MODELS


@MODELS.register_module()
class MultiLabelContrastiveLoss(nn.Module):
    """Multi-label contrastive loss on image-text similarities (official
    ``src/libs/loss/multi_cls/cl_loss.py: MultiLabelCLLoss``).

    Each image is an anchor; its positive classes P are positives, its negative classes N
    negatives. Every positive is contrasted with all negatives only:

        l_p = -log( exp(g s_p) / (exp(g s_p) + sum_{n in N} exp(g s_n)) )

    Only images with at least one positive and one negative count. ``reduce='pos_mean'``:
    mean of ``l_p`` over all positives of the batch; ``'sample_mean'``: mean over each
    image's positives, then over images.

    Args:
        gamma: similarity scale ``g`` (None: the logits are used as they are, e.g. already
            CLIP's ``logit_scale * cos``).
        reduce: ``'pos_mean'`` or ``'sample_mean'``.
    """

    def __init__(self, gamma: Optional[float] = None, reduce: str = 'pos_mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if reduce not in ('pos_mean', 'sample_mean'):
            raise ValueError(f"reduce {reduce!r}: use 'pos_mean' or 'sample_mean'")
        self.gamma = gamma
        self.reduce = reduce
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        pos = targets > 0
        valid = pos.any(1) & (~pos).any(1)
        if not valid.any():
            return logits.sum() * 0
        s = logits[valid] * (self.gamma if self.gamma is not None else 1.0)
        pos = pos[valid]
        neg_lse = torch.logsumexp(s.masked_fill(pos, float('-inf')), dim=1, keepdim=True)
        # -(s_p - log(exp(s_p) + sum_n exp(s_n))), stable
        loss = torch.logaddexp(s, neg_lse.expand_as(s)) - s
        if self.reduce == 'pos_mean':
            out = loss[pos].mean()
        else:
            out = ((loss * pos).sum(1) / pos.sum(1)).mean()
        return self.loss_weight * out
