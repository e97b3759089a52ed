"""Poolings that turn CAMs (N, C, h, w) into image-level logits (N, C)."""
from typing import Union

import torch
import torch.nn as nn

from mmwsss.registry import MODELS


@MODELS.register_module(name='gap')
class GlobalAvgPooling(nn.Module):
    """Global average pooling: the class score is the mean of its CAM (Zhou et al. 2016)."""

    def forward(self, cams: torch.Tensor) -> torch.Tensor:
        return cams.mean(dim=(2, 3))


def build_cam_pooling(cfg: Union[str, dict]) -> nn.Module:
    """Build a pooling from a registered name (``'gap'``) or a config dict."""
    if isinstance(cfg, str):
        cfg = dict(type=cfg)
    return MODELS.build(cfg)
