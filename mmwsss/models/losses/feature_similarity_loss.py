"""HFPL's feature similarity loss: CAM contours should follow image colour edges."""
import math
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from mmwsss.registry import MODELS
from .weighted_loss import WeightedLoss
from ..utils import min_max_norm, multi_hot, with_background


@MODELS.register_module()
class FeatureSimilarityLoss(WeightedLoss):
    """Feature similarity loss of "High-fidelity Pseudo-labels for Boosting Weakly-Supervised
    Segmentation" (Jonnarth & Felsberg 2023), as ``tool/probutils.py:feature_similarity_loss``
    of arvijj/hfpl computes it (dense, ``fast=False``), called as in ``train_cam_voc.py``.

    At CAM resolution, over all pixel pairs (i, j):

    - ``Y``: the CAMs min-max normalised per map, masked by the image-level label, with a
      background channel ``1 - max``; ``dy = ½‖Y_i − Y_j‖²``;
    - ``x``: the input image resized to the CAM (bilinear, ``align_corners=True``) and
      un-normalised to RGB in [0, 1]; ``dx = clamp(‖x_i − x_j‖₁ / 3, 0, 1)``;
    - ``e = tanh(mu + logit(dx))`` (logit with 1e-5 guards): about −1 where colours agree,
      +1 across colour edges, changing sign at ``dx = sigmoid(−mu)``;
    - ``k = exp(−½ (d_ij / sigma)²) / (2π sigma²)`` with ``d_ij`` the grid distance;
    - ``loss = −Σ_ij k · dy · e / (N h w)``.

    So predictions are pulled together within colour regions and pushed apart across edges.
    Gradients flow through the normalisation into the CAMs. Official weights: 1.0 on VOC,
    0.2 on COCO; ``mu`` 2.5, ``sigma`` 5.

    Args:
        mean, std: the data preprocessor's normalisation (0–255 RGB), to recover the image.
    """

    def __init__(self,
                 mu: float = 2.5,
                 sigma: float = 5.0,
                 loss_weight: float = 1.0,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 loss_name: str = 'loss_fs') -> None:
        super().__init__(loss_weight, loss_name)
        self.mu = mu
        self.sigma = sigma
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self._kernel_key, self._kernel = None, None

    def spatial_kernel(self, h: int, w: int, device) -> torch.Tensor:
        """``k_ij`` (hw, hw): a Gaussian of the pixel distance, made once per size/device."""
        key = (h, w, str(device))
        if self._kernel_key != key:
            self._kernel = self._make_spatial_kernel(h, w, device)
            self._kernel_key = key
        return self._kernel

    def _make_spatial_kernel(self, h: int, w: int, device) -> torch.Tensor:
        ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                                torch.arange(w, device=device, dtype=torch.float32),
                                indexing='ij')
        grid = torch.stack([ys.flatten(), xs.flatten()], dim=1)
        d = torch.cdist(grid, grid)
        return torch.exp(-0.5 * (d / self.sigma)**2) / (2 * math.pi * self.sigma**2)

    def colour_term(self, img: torch.Tensor) -> torch.Tensor:
        """``e_ij`` (N, hw, hw) from an RGB image in [0, 1] at CAM size."""
        x = img.clamp(0, 1).flatten(2)  # (N, 3, hw)
        # mean L1 distance over the channels; broadcast per channel: torch.cdist(p=1) has no
        # fast GPU kernel (about 100 ms per call at SEAM's 56×56 CAMs on an H100)
        dx = sum((x[:, c, :, None] - x[:, c, None, :]).abs() for c in range(x.shape[1]))
        dx = (dx / x.shape[1]).clamp(0, 1)
        return torch.tanh(self.mu + torch.log((dx + 1e-5) / (1 - dx + 1e-5)))

    def forward(self, cams: torch.Tensor, inputs: torch.Tensor,
                data_samples: List[SegDataSample]) -> torch.Tensor:
        """``data_samples`` carry the image-level labels: CAMs of absent classes are zeroed."""
        # fp32 even under bf16 autocast: dy is a difference of nearly equal dot products
        with torch.autocast(device_type=cams.device.type, enabled=False):
            return self._loss(cams, inputs, data_samples)

    def _loss(self, cams: torch.Tensor, inputs: torch.Tensor,
              data_samples: List[SegDataSample]) -> torch.Tensor:
        n, c, h, w = cams.shape
        labels = multi_hot(data_samples, c, cams.device)[..., None, None]
        y = with_background(min_max_norm(cams.float()) * labels).flatten(2)  # (n, 1+c, hw)
        sq = (y * y).sum(1)
        dy = 0.5 * (sq[:, :, None] + sq[:, None, :] - 2 * y.transpose(1, 2) @ y).clamp(min=0)
        img = F.interpolate(inputs.float(), size=(h, w), mode='bilinear', align_corners=True)
        img = (img * self.std + self.mean) / 255
        k = self.spatial_kernel(h, w, cams.device)
        total = (k * dy * self.colour_term(img)).sum()
        return -self.loss_weight * total / (n * h * w)
