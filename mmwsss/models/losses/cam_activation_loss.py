"""CAM activation loss of the CLIP + SAM prompt learning (Yang & Gong, "Foundation Model
Assisted Weakly Supervised Semantic Segmentation"; official code HAL-42/FMA-WSSS)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS


@MODELS.register_module()
class CAMActivationLoss(nn.Module):
    """CAM activation loss against a seed map (official ``src/libs/loss/cam_lb.py:
    CAMIntensityLoss``).

    For every present class c of an image, with its CAM ``A_c`` and the seed's class-c
    region F (the rest of the image is B):

    * on F: ``max_F(A_c) - A_c`` (the maximum over F, floored at 0 and detached unless
      ``detach_max=False``): the whole seed region is pulled up to its peak;
    * on B: ``max(A_c, bg_thresh) - bg_thresh``: activation outside is pushed below
      ``bg_thresh``;

    as L1 (``loss_type='l1'``) or ``0.5 x²`` (``'l2'``). ``reduce``: ``'all'`` (sum over all
    present-class maps divided by their number of labelled pixels, F and B together, as the
    official ``all_nums``), ``'fg-bg'`` (half the mean over F plus half the mean over B) or
    ``'fg-bg-per-pos'`` (the same per class map, then averaged).

    ``ignore_index``: seed pixels with this value count in neither F nor B (official: 255, the
    padding of the crops; ``None``: nothing ignored).

    The official training (``configs/clip_cam/base.py``: ``l1``, ``'all'``, ``detach_max``,
    ``bg_thresh=0``, weights (1, 1) for the F and B terms) applies it to the raw Grad-CAMs of the
    segmentation prompts (``GradCAMCLIP.forward`` ``pos_cam``), not normalised.
    """

    def __init__(self, loss_type: str = 'l1', reduce: str = 'all', detach_max: bool = True,
                 bg_thresh: float = 0.0, ignore_index: Optional[int] = 255,
                 loss_weight: float = 1.0, eps: float = 1e-5) -> None:
        super().__init__()
        if loss_type not in ('l1', 'l2'):
            raise ValueError(f"loss_type {loss_type!r}: use 'l1' or 'l2'")
        if reduce not in ('all', 'fg-bg', 'fg-bg-per-pos'):
            raise ValueError(f"reduce {reduce!r}: use 'all', 'fg-bg' or 'fg-bg-per-pos'")
        self.loss_type = loss_type
        self.reduce = reduce
        self.detach_max = detach_max
        self.bg_thresh = bg_thresh
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, cams: Tensor, seeds: Tensor, present: Tensor) -> Tensor:
        """cams (N, C, h, w); seeds (N, H, W) long (0 background, c for class c);
        present (N, C) 0/1 image-level labels."""
        if cams.shape[-2:] != seeds.shape[-2:]:
            cams = F.interpolate(cams, size=seeds.shape[-2:], mode='bilinear',
                                 align_corners=False)
        img, cls = (present > 0).nonzero(as_tuple=True)
        if not len(img):
            return cams.sum() * 0
        cam = cams[img, cls]  # (P, H, W)
        seed = seeds[img]
        fg = (seed == (cls + 1)[:, None, None]).to(cam)
        bg = 1 - fg
        if self.ignore_index is not None:
            bg = bg * (seed != self.ignore_index).to(cam)
        peak = (cam * fg).amax(dim=(1, 2), keepdim=True).clamp(min=0)
        if self.detach_max:
            peak = peak.detach()
        fg_d = peak - cam
        bg_d = cam.clamp(min=self.bg_thresh) - self.bg_thresh
        if self.loss_type == 'l1':
            fg_l, bg_l = fg_d.abs() * fg, bg_d.abs() * bg
        else:
            fg_l, bg_l = 0.5 * fg_d ** 2 * fg, 0.5 * bg_d ** 2 * bg
        if self.reduce == 'all':
            loss = (fg_l.sum() + bg_l.sum()) / (fg.sum() + bg.sum()).clamp(min=1)
        elif self.reduce == 'fg-bg':
            loss = (fg_l.sum() / (fg.sum() + self.eps) + bg_l.sum() / (bg.sum() + self.eps)) / 2
        else:
            loss = (fg_l.sum((1, 2)) / (fg.sum((1, 2)) + self.eps) +
                    bg_l.sum((1, 2)) / (bg.sum((1, 2)) + self.eps)).mean() / 2
        return self.loss_weight * loss
