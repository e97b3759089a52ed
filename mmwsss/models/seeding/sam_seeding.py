"""SAM-based seeding (SAMS) of FMA-WSSS and the class-aware attention refinement (CAA) of the
CAMs before it (HAL-42/FMA-WSSS, after CLIP-ES)."""
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.utils import mask_priority_order, paint_masks

SEED_MODES = ('coarse', 'fine')
# official VOC settings: configs/VOC/cls/infer/final/affx2,at_score,att2affx1/ann,affed/cfg.py
# (coarse seeds, pow .6) and configs/VOC/seg/infer/final/affx2,at_cam,attx1,·5thresh/ann,affed/
# cfg.py (fine seeds, pow .7), both with norm_first=True
DEFAULT_BG = dict(coarse=dict(method='pow', pow=0.6), fine=dict(method='pow', pow=0.7))
# official VOC CAA settings (configs/aff_voc/base.py + the two infer configs above)
DEFAULT_CAA = dict(
    coarse=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.4, at='score'),
    fine=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.5, at='cam'))


def cam_to_score(cam: Tensor, eps: float = 1e-7) -> Tensor:
    """ReLU, then min-max normalisation over the last two axes (official
    ``src/libs/seeding/score.py: cam2score_cuda`` = ``src/utils/norm.py: min_max_norm`` with
    ``thresh=0``)."""
    cam = cam.clamp(min=0)
    lo = cam.amin(dim=(-2, -1), keepdim=True)
    hi = cam.amax(dim=(-2, -1), keepdim=True)
    return (cam - lo) / (hi - lo + eps)


# ------------------------------------------------------------------ class-aware attention (CAA)
def attention_affinity(attn: Union[Tensor, Sequence[Tensor]], last_n_layers: int = 8,
                       sinkhorn_iters: int = 1) -> Tensor:
    """(hw, hw) affinity of the patch tokens from the attention maps of one image (official
    ``src/libs/seeding/aff/tools.py: merge_att`` + ``att2aff`` with ``method='sink-horn'``;
    CLIP-ES ``generate_cams_voc12.py``): mean of the last ``last_n_layers`` (head-averaged)
    attention maps without the class token, ``sinkhorn_iters`` rounds of column then row
    normalisation, then the symmetric mean ``(A + A^T) / 2``.

    Args:
        attn: (layers, L, L) or a list of (L, L) maps, class token first.
    """
    if not torch.is_tensor(attn):
        attn = torch.stack(list(attn))
    aff = attn[-last_n_layers:, 1:, 1:].float().mean(0)
    for _ in range(sinkhorn_iters):
        aff = aff / aff.sum(0, keepdim=True)
        aff = aff / aff.sum(1, keepdim=True)
    return (aff + aff.t()) / 2


def score_box_mask(score: Tensor, thresh: float) -> Tensor:
    """(h, w) 0/1 mask of the bounding boxes of all contours of ``score > thresh * max``
    (official ``src/libs/seeding/aff/utils.py: scoremap2bbox`` with ``multi_contour_eval=True``
    and ``tools.py: get_aff_mask`` ``'thresh-bbox'``; CLIP-ES ``utils.py: scoremap2bbox``),
    including its quirks: the score is quantised to uint8, and a box's right / bottom end is
    clipped to ``w - 1`` / ``h - 1`` (exclusive), so a box touching the border loses the last
    column / row."""
    import cv2
    h, w = score.shape
    img = (score.detach().float().cpu().numpy() * 255).astype(np.uint8)
    _, binary = cv2.threshold(img, int(thresh * img.max()), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    mask = torch.zeros(h, w, device=score.device)
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        mask[y:min(y + bh, h - 1), x:min(x + bw, w - 1)] = 1
    return mask


def refine_cams(cams: Tensor, aff: Tensor, n_iters: int = 2, box_thresh: float = 0.4,
                at: str = 'score') -> Tensor:
    """Class-aware attention refinement of one image's CAMs (official
    ``src/libs/seeding/aff/caller.py: att_cam`` with ``aff_mask_cfg='thresh-bbox'``,
    ``to_in_bbox=to_out_bbox='in_bbox'``; ``tools.py: aff_cam``):

        out_c = (aff ** n_iters * box_c[None, :]) @ x_c,

    ``x_c`` the CAM (``at='cam'``) or its score (``at='score'``: ``cam_to_score``), ``box_c``
    the box mask of class c's score (``score_box_mask``): only pixels inside the class's
    boxes propagate. The result is not normalised (``SAMSeeding`` normalises).

    Args:
        cams: (P, h, w) CAMs on the patch grid of the attention.
        aff: (h*w, h*w) affinity (``attention_affinity``).
    """
    if at not in ('score', 'cam'):
        raise ValueError(f"at {at!r}: use 'score' or 'cam'")
    p, h, w = cams.shape
    score = cam_to_score(cams.float())
    if n_iters == 0 or p == 0:
        return score if at == 'score' else cams.float()
    boxes = torch.stack([score_box_mask(s, box_thresh) for s in score]).reshape(p, 1, h * w)
    trans = torch.linalg.matrix_power(aff.float(), n_iters)[None] * boxes  # (P, hw, hw)
    x = (score if at == 'score' else cams.float()).reshape(p, h * w, 1)
    return (trans @ x).reshape(p, h, w)


# ---------------------------------------------------------------------------------- SAMS
class SAMSeeding:
    """SAM-based seeding (SAMS): SAM masks + CAMs → a seed map.

    The math of the official ``gather_norm_bg_argmax`` (HAL-42/FMA-WSSS,
    ``src/libs/seeding/seed_anns/score_cw.py``, run by ``src/tasks/anns_seed/run.py``):

    1. ``norm_first=True`` (the official final configs): ReLU of the CAM, then the mean of every
       present class inside every SAM mask; ``norm_first=False``: the mean CAM;
    2. normalise each class over the masks: ReLU, then min-max (``cam2score_cuda``);
    3. background score of a mask: ``(1 - max_c score_c) ** pow`` (``'pow'``) or a constant
       (``'thresh'``), as ``src/libs/seeding/score.py: cat_bg_score_cuda``;
    4. a mask takes the argmax of [background, classes]; its confidence is that score;
    5. masks are painted in priority order, the higher-priority mask winning on overlaps
       (``seed_anns/utils.py: sort_anns`` + ``scatter_anns``); pixels of no mask get
       ``uncovered`` (official ``default_vec=0``: background).

    Priority: with ``levels`` (SAM's multimask level 0/1/2 of each mask, as the official
    ``SamAuto`` records; ``mmwsss.models.sam.SamAutoMaskGenerator`` gives them) the official
    ``('level_bigger', 'conf_bigger')``: a stable sort, so ties keep the order of ``masks``
    (the generator's order, as the official annotation list); without, the confidence, ties
    broken by the smaller area, then the earlier mask (``mask_priority_order``, the rule of
    ``merge_instance_masks``).

    *Coarse* and *fine* seeds are this computation on different CAMs, as in the official code:
    coarse from the classification-prompt CAMs (the CAM-activation-loss target), fine from the
    learned segmentation-prompt CAMs (the pseudo-labels). ``mode`` picks the official VOC
    background power when ``bg_method`` is not given (coarse 0.6, fine 0.7).

    Classes absent from the image-level label cannot appear (only present classes are
    gathered).
    """

    def __init__(self, mode: str = 'fine', bg_method: Optional[dict] = None,
                 norm_first: bool = True, uncovered: int = 0) -> None:
        if mode not in SEED_MODES:
            raise ValueError(f'seeding mode {mode!r}: use one of {SEED_MODES}')
        self.mode = mode
        self.bg_method = dict(bg_method or DEFAULT_BG[mode])
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
    def _norm(x: Tensor, eps: float = 1e-7) -> Tensor:
        """ReLU, then min-max over the last axis (``cam2score_cuda`` over the masks)."""
        x = x.clamp(min=0)
        lo, hi = x.amin(-1, keepdim=True), x.amax(-1, keepdim=True)
        return (x - lo) / (hi - lo + eps)

    def __call__(self, masks: Tensor, cams: Tensor, present: Tensor,
                 levels: Optional[Tensor] = None) -> Tensor:
        """masks (n, H, W) bool; cams (C, H, W); present (C,) 0/1; levels (n,) optional →
        (H, W) long seed with 0 background and 1..C classes (``uncovered`` outside every
        mask)."""
        c, h, w = cams.shape
        out = torch.full((h, w), self.uncovered, dtype=torch.long, device=cams.device)
        if masks.shape[-2:] != (h, w):
            masks = F.interpolate(masks[:, None].float(), size=(h, w), mode='nearest')[:, 0] > 0
        masks = masks.to(cams.device).bool()
        if len(masks):
            nonempty = masks.flatten(1).any(1)
            masks = masks[nonempty]
            if levels is not None:
                levels = torch.as_tensor(levels, device=cams.device)[nonempty]
        fg_cls = (present.to(cams.device) > 0).nonzero(as_tuple=True)[0]
        if not len(masks):
            return out
        if not len(fg_cls):  # no class in the image-level label: every mask is background
            return torch.where(masks.any(0), torch.zeros_like(out), out)
        cam = cams[fg_cls].flatten(1).float()  # (P, HW)
        if self.norm_first:
            cam = cam.clamp(min=0)
        m = masks.flatten(1).float()  # (n, HW)
        area = m.sum(1)
        fg = self._norm((cam @ m.t()) / area)  # (P, n): normalised mean CAM inside each mask
        score = torch.cat([self.background(fg), fg])  # (1 + P, n)
        conf, idx = score.max(0)
        labels = torch.cat([idx.new_zeros(1), fg_cls + 1])[idx]
        if levels is None:
            order = mask_priority_order(conf, area)
        else:  # official sort_anns: a stable sort by (level, conf), ties keep the mask order
            order = conf.argsort(stable=True)
            order = order[levels[order].argsort(stable=True)]
        return paint_masks(masks, labels, order, fill=self.uncovered)
