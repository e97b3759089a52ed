"""SEAM's pixel correlation module (PCM)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmwsss.registry import MODELS
from ..utils import keep_argmax_foreground, with_background


@MODELS.register_module()
class PCMNeck(BaseModule):
    """Refines CAMs by the normalised affinity of image + backbone features (Wang et al. 2020).

    The math of ``network/resnet38_SEAM.py:Net.forward`` and ``Net.PCM`` (YudeWang/SEAM):

    1. features: ReLU(1×1 conv) of each tapped backbone map (detached: no gradient reaches the
       backbone through PCM), concatenated with the input image resized to the feature size
       (bilinear, ``align_corners=True``), then a 1×1 conv ``f9`` without activation;
    2. ``f`` is L2-normalised over channels; affinity ``A = ReLU(fᵀ f)`` (HW×HW) and each
       column is divided by its sum (+1e-5);
    3. refined CAM: ``cam_rv[c, j] = Σ_i cam[c, i] · A[i, j]``.

    Called as ``neck(cams, feats, img)`` with ``cams`` (N, K, h, w) the CAMs to refine (SEAM:
    background + foreground after its max-normalisation) and ``feats`` the backbone outputs.

    Args:
        in_channels: channels of the tapped backbone maps (SEAM: conv4 512, conv5 1024).
        in_index: which backbone outputs to tap.
        feat_channels: output channels of each tap's 1×1 conv (SEAM: 64, 128).
        out_channels: channels of ``f9`` (SEAM: 192).
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024),
                 in_index: Sequence[int] = (0, 1),
                 feat_channels: Sequence[int] = (64, 128),
                 out_channels: int = 192,
                 img_channels: int = 3,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = tuple(in_index)
        self.taps = nn.ModuleList(
            nn.Conv2d(c, f, 1, bias=False) for c, f in zip(in_channels, feat_channels))
        self.f9 = nn.Conv2d(sum(feat_channels) + img_channels, out_channels, 1, bias=False)
        for tap in self.taps:  # SEAM: kaiming_normal_ on f8_3/f8_4, xavier gain 4 on f9
            nn.init.kaiming_normal_(tap.weight)
        nn.init.xavier_uniform_(self.f9.weight, gain=4)

    @staticmethod
    def prepare_cams(fg_cams: torch.Tensor) -> torch.Tensor:
        """SEAM's PCM input from raw foreground CAMs (``Net.forward``, under no_grad):
        ReLU and per-map max-normalisation, background ``1 - max``, and only each pixel's top
        foreground class kept."""
        with torch.no_grad():
            c = F.relu(fg_cams.detach())
            peak = c.flatten(2).amax(-1)[..., None, None] + 1e-5
            c = F.relu(c - 1e-5) / peak
            return keep_argmax_foreground(with_background(c))

    def refine(self, fg_cams: torch.Tensor, feats: Sequence[torch.Tensor],
               img: torch.Tensor) -> torch.Tensor:
        """Refined (N, 1 + C, h, w) maps, background first, from raw foreground CAMs."""
        return self(self.prepare_cams(fg_cams), feats, img)

    def embed(self, feats: Sequence[torch.Tensor], img: torch.Tensor) -> torch.Tensor:
        """L2-normalised pixel embeddings (N, D, h, w)."""
        maps = [F.relu(tap(feats[i].detach())) for tap, i in zip(self.taps, self.in_index)]
        h, w = maps[0].shape[-2:]
        img = F.interpolate(img, size=(h, w), mode='bilinear', align_corners=True)
        f = self.f9(torch.cat([img] + maps, dim=1))
        return f / (f.norm(dim=1, keepdim=True) + 1e-5)

    def forward(self, cams: torch.Tensor, feats: Sequence[torch.Tensor],
                img: torch.Tensor) -> torch.Tensor:
        f = self.embed(feats, img)
        n, d, h, w = f.shape
        if cams.shape[-2:] != (h, w):
            cams = F.interpolate(cams, size=(h, w), mode='bilinear', align_corners=True)
        f = f.flatten(2)
        aff = F.relu(torch.bmm(f.transpose(1, 2), f))  # (n, hw, hw)
        aff = aff / (aff.sum(dim=1, keepdim=True) + 1e-5)
        return torch.bmm(cams.flatten(2), aff).view(n, -1, h, w)
