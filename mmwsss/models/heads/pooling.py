"""Poolings that turn CAMs (N, C, h, w) into image-level logits: global average pooling here,
HFPL's importance sampling in ``importance_sampling_pooling.py``.

A pooling returns logits of shape (N, C), or in training (N, C, S): S logit estimates per
class that the classification loss averages with the weights in ``sample_weights`` (summing to
one), the first being the deterministic score. ``plain(cams)`` is that deterministic (N, C)
score, used outside the loss too (inference, auxiliary branches). ``forward(cams,
plain_cams)`` takes it from ``plain_cams`` when given: the same CAMs upsampled to the input,
which SEAM averages (``train_SEAM.py``: ``adaptive_avg_pool2d`` of the upsampled ``cam``).
"""
from typing import Optional, Union

import torch
import torch.nn as nn

from mmwsss.registry import MODELS
from ..builder import build_module


@MODELS.register_module(name='gap')
class GlobalAvgPooling(nn.Module):
    """Global average pooling: the class score is the mean of its CAM (Zhou et al. 2016)."""

    def plain(self, cams: torch.Tensor) -> torch.Tensor:
        return cams.mean(dim=(2, 3))

    def forward(self, cams: torch.Tensor,
                plain_cams: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.plain(cams if plain_cams is None else plain_cams)


def build_cam_pooling(cfg: Union[str, dict]) -> nn.Module:
    """Build a pooling from a registered name (``'gap'``) or a config dict."""
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    return build_module(cfg)
