"""HFPL's importance sampling: a CAM pooling that draws pixels instead of averaging them."""
from typing import Optional

import torch

from mmwsss.registry import MODELS
from .pooling import GlobalAvgPooling


@MODELS.register_module(name='importance_sampling')
class ImportanceSamplingPooling(GlobalAvgPooling):
    """HFPL's importance sampling (Jonnarth & Felsberg 2023; arvijj/hfpl ``train_cam_voc.py``,
    the ``sample_probs`` step before ``loss_cls1``).

    Each class is an independent binary (sigmoid) problem, the paper's likelihood reading of
    the CAM rather than a softmax posterior over classes: pixels are drawn with probability
    proportional to ``sigmoid(cam_c) + 1e-5`` (``torch.multinomial``, with replacement), and the
    CAM *logits* at the drawn pixels are the class-score estimates that the multi-label loss
    sees. The draw is not differentiable; gradients reach the sampled logits only. As in the
    official code, sampling blends with GAP: the loss is ``(1 - w) · L(GAP) + w · mean_s
    L(sample_s)`` with ``w = sample_loss_weight`` (0.2) and ``num_samples`` = 10. Outside
    training it is GAP. Pixels are drawn at feature resolution (``logits1``, the head's
    output before SEAM's upsampling) also when the GAP term averages the upsampled CAMs.
    """

    def __init__(self, num_samples: int = 10, sample_loss_weight: float = 0.2) -> None:
        super().__init__()
        if not 0 <= sample_loss_weight <= 1:
            raise ValueError(f'sample_loss_weight must be in [0, 1], got {sample_loss_weight}')
        if num_samples < 1:
            raise ValueError(f'num_samples must be at least 1, got {num_samples}')
        self.num_samples = num_samples
        self.sample_loss_weight = sample_loss_weight

    def sample(self, cams: torch.Tensor) -> torch.Tensor:
        """(N, C, num_samples) logits at pixels drawn ∝ sigmoid(cam)."""
        n, c = cams.shape[:2]
        flat = cams.flatten(2).reshape(n * c, -1)
        probs = torch.sigmoid(flat.detach().float()) + 1e-5
        idx = torch.multinomial(probs, self.num_samples, replacement=True)
        return flat.gather(1, idx).view(n, c, self.num_samples)

    @property
    def sample_weights(self) -> torch.Tensor:
        w = self.sample_loss_weight
        return torch.tensor([1 - w] + [w / self.num_samples] * self.num_samples)

    def forward(self, cams: torch.Tensor,
                plain_cams: Optional[torch.Tensor] = None) -> torch.Tensor:
        gap = super().forward(cams, plain_cams)
        if not self.training:
            return gap
        return torch.cat([gap[..., None], self.sample(cams)], dim=-1)
