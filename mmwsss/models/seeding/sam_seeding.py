"""SAM-based seeding (SAMS) of FMA-WSSS: SAM masks + CAMs → seed label maps."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

SEED_MODES = ('coarse', 'fine')


class SAMSeeding:
    """SAM-based seeding (SAMS): SAM masks + CAMs → a seed map.

    The math of the official ``gather_norm_bg_argmax`` (HAL-42/FMA-WSSS,
    ``src/libs/seeding/seed_anns/score_cw.py``, called by ``src/tasks/anns_seed/run.py`` with
    ``configs/anns_seed/base.py``: ``norm_first=False, gather_method='mean',
    bg_method={'method': 'pow', 'pow': 3}``):

    1. gather: the mean CAM of every present class inside every SAM mask, (C, n);
    2. normalise: ReLU, then divide each class by its maximum over the masks;
    3. background score of a mask: ``(1 - max_c score_c) ** pow`` (``'pow'``) or a constant
       (``'thresh'``), as ``libs/seeding/score.py: cat_bg_score_cuda``;
    4. a mask takes the argmax of [background, classes]; its confidence is that score;
    5. masks are painted by priority, the higher-priority mask winning on overlaps; pixels
       of no mask get ``uncovered`` (the official ``default_vec=0``: background).

    The official priority is ``('level_bigger', 'conf_bigger')`` (SAM's multi-mask level,
    then confidence); the masks here carry no level, so the priority is the confidence, then
    the smaller area.

    *Coarse* and *fine* seeds are the same module applied to different CAMs, as in the paper:
    coarse seeds from the classification-prompt CAMs (the activation-loss target), fine seeds
    from the learned segmentation-prompt CAMs (the pseudo-labels). ``mode`` only names which.

    Classes absent from the image-level label cannot appear (only present classes are
    gathered).
    """

    def __init__(self, mode: str = 'fine', bg_method: Optional[dict] = None,
                 norm_first: bool = False, uncovered: int = 0) -> None:
        if mode not in SEED_MODES:
            raise ValueError(f'seeding mode {mode!r}: use one of {SEED_MODES}')
        self.mode = mode
        self.bg_method = dict(bg_method or dict(method='pow', pow=3))
        if self.bg_method.get('method') not in ('pow', 'thresh'):
            raise ValueError(f"bg_method {bg_method}: use dict(method='pow', pow=p) or "
                             "dict(method='thresh', thresh=t)")
        self.norm_first = norm_first
        self.uncovered = uncovered

    def background(self, fg: Tensor) -> Tensor:
        """(1, ...) background score of (C, ...) normalised foreground scores."""
        if self.bg_method['method'] == 'pow':
            top = fg.amax(0, keepdim=True) if len(fg) else torch.zeros_like(fg[:1])
            return (1 - top).pow(self.bg_method['pow'])
        return torch.full_like(fg[:1], self.bg_method['thresh'])

    @staticmethod
    def _norm(x: Tensor, eps: float = 1e-5) -> Tensor:
        """ReLU, then divide by the maximum over the last axis (``cam2score_cuda``)."""
        x = x.clamp(min=0)
        return x / (x.amax(-1, keepdim=True) + eps)

    def __call__(self, masks: Tensor, cams: Tensor, present: Tensor) -> Tensor:
        """masks (n, H, W) bool; cams (C, H, W); present (C,) 0/1 → (H, W) long seed with 0
        background and 1..C classes (``uncovered`` outside every mask)."""
        c, h, w = cams.shape
        out = torch.full((h, w), self.uncovered, dtype=torch.long, device=cams.device)
        if masks.shape[-2:] != (h, w):
            masks = F.interpolate(masks[:, None].float(), size=(h, w), mode='nearest')[:, 0] > 0
        masks = masks.to(cams.device).bool()
        masks = masks[masks.flatten(1).any(1)] if len(masks) else masks
        fg_cls = (present.to(cams.device) > 0).nonzero(as_tuple=True)[0]
        if not len(masks):
            return out
        cam = cams[fg_cls].flatten(1).float()  # (P, HW)
        if self.norm_first:
            cam = self._norm(cam)
        m = masks.flatten(1).float()  # (n, HW)
        area = m.sum(1)
        fg = (cam @ m.t()) / area  # (P, n): mean CAM inside each mask
        fg = self._norm(fg)
        score = torch.cat([self.background(fg), fg])  # (1 + P, n)
        conf, idx = score.max(0)
        labels = torch.cat([idx.new_zeros(1), fg_cls + 1])[idx]
        # paint lowest priority first: low confidence, then large area
        order = area.argsort(descending=True, stable=True)
        order = order[conf[order].argsort(stable=True)]
        for i in order.tolist():
            out = torch.where(masks[i], labels[i], out)
        return out
