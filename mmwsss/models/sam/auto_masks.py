"""SAM's automatic masks: the single-mask point grid ("everything") and the official
FMA-WSSS multi-level generator (``SamAutoMaskGenerator``), batched."""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .predictor import BatchedSamPredictor


def point_grid(h: int, w: int, points_per_side: int) -> Tensor:
    """(P², 2) xy pixel coordinates of SAM's automatic-mask grid (cell centres, as
    ``segment_anything.utils.amg.build_point_grid``) on an H×W image."""
    offset = 1 / (2 * points_per_side)
    side = torch.linspace(offset, 1 - offset, points_per_side)
    ys, xs = torch.meshgrid(side, side, indexing='ij')
    return torch.stack([xs.flatten() * w, ys.flatten() * h], dim=-1)


@torch.no_grad()
def predict_everything(predictor: BatchedSamPredictor, images: Sequence[Tensor],
                       points_per_side: int = 32, pred_iou_thresh: float = 0.88,
                       min_area: int = 0, bgr: bool = False) -> List[Tensor]:
    """"Everything" masks: SAM prompted by a regular point grid on each image.

    A simplified ``SamAutomaticMaskGenerator`` on top of ``BatchedSamPredictor``: the batch is
    encoded once, the grid points of all images are decoded together in chunks of
    ``decoder_batch_size`` (single-mask output), masks whose predicted IoU is below
    ``pred_iou_thresh`` or whose area is below ``min_area`` are dropped, and identical masks
    are kept once. No crops, stability score or box NMS (deviations from the original).

    Returns:
        per image, (n_i, H_i, W_i) bool masks sorted by decreasing area.
    """
    if not len(images):
        return []
    feats = predictor.encode(images, bgr=bgr)
    grids = [point_grid(*size, points_per_side) for size in feats.original_sizes]
    image_index = torch.cat([torch.full((len(g),), i, dtype=torch.long)
                             for i, g in enumerate(grids)])
    coords = torch.cat(grids)[:, None, :]
    labels = torch.ones(len(coords), 1, dtype=torch.long)
    low_res, ious = predictor.decode(feats, image_index, points=(coords, labels))
    out, start = [], 0
    for i, g in enumerate(grids):
        sl = slice(start, start + len(g))
        start += len(g)
        keep = (ious[sl] >= pred_iou_thresh).nonzero(as_tuple=True)[0]
        masks = predictor.postprocess(low_res[sl][keep], feats, i)
        if len(masks):
            areas = masks.flatten(1).sum(1)
            masks = masks[areas > max(0, min_area - 1)]
            if len(masks):
                masks = torch.unique(masks.flatten(1), dim=0).reshape(-1, *masks.shape[1:])
                masks = masks[masks.flatten(1).sum(1).argsort(descending=True)]
        out.append(masks)
    return out


# ------------------------------------------------------------------ FMA-WSSS SamAuto
# Mask-generator patterns of the official FMA-WSSS code (HAL-42/FMA-WSSS,
# configs/sam_auto_seg/patterns/mask_gen_ini.py). The official VOC and COCO seeds use
# 'l2_nmsf_s1_rsw3' (configs/VOC/sams/cfg.py, configs/COCO/sams/cfg.py); 'official_default' is
# segment-anything's SamAutomaticMaskGenerator with its own defaults.
_SAM_AUTO_BASE = dict(
    points_per_side=32, pred_iou_thresh=0.86, stability_score_thresh=0.92,
    stability_score_offset=1.0, box_nms_thresh=0.7, crop_n_layers=1, crop_nms_thresh=0.7,
    crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=2, min_mask_region_area=100,
    score_thresh_offset=(0.0, 0.0, 0.0), score_nms_offset=(0.0, 0.0, 0.0),
    stability_score_bias=(0.0, 0.0, 0.0), rock_sand_water_thresh=None)
SAM_AUTO_PATTERNS = {
    'official_default': dict(_SAM_AUTO_BASE, pred_iou_thresh=0.88, stability_score_thresh=0.95,
                             crop_n_layers=0, crop_n_points_downscale_factor=1,
                             min_mask_region_area=0),
    'official_heavy': dict(_SAM_AUTO_BASE),
    'ssa_default': dict(_SAM_AUTO_BASE, crop_n_layers=0),
    'l2_nmsf': dict(_SAM_AUTO_BASE, score_nms_offset=(0.0, 0.0, 1.0)),
    'l2_nmsf_s1': dict(_SAM_AUTO_BASE, score_thresh_offset=(0.0, 0.0, 0.1),
                       score_nms_offset=(0.0, 0.0, 1.0)),
    'l2_nmsf_s1_rsw3': dict(_SAM_AUTO_BASE, score_thresh_offset=(0.0, 0.0, 0.1),
                            score_nms_offset=(0.0, 0.0, 1.0), rock_sand_water_thresh=0.3),
}
SAM_AUTO_LEVELS = 3  # SAM's multimask outputs: 0 sub-part, 1 part, 2 whole object


def rock_sand_water(masks: Tensor, levels: Tensor, thresh: float,
                    chunk_size: int = 64) -> Tensor:
    """Indices of the masks kept by the official "rock-sand-water" filter, in the official
    order (``src/libs/sam/custom_sam/sam_auto.py: SamAuto.rock_sand_water``).

    Levels are visited from the whole objects (2) down to the sub-parts (0). The first
    non-empty level is kept whole and starts the kept set; a mask of a later level is kept
    only if its largest recall ``|m ∩ k| / |m|`` over the kept masks ``k`` (the larger levels
    already kept) is below ``thresh``, and is then added to the kept set. A part mostly
    covered by a whole object is dropped; a part outside every larger mask stays. An empty
    mask has recall NaN and is dropped (as in the official code).

    Args:
        masks: (n, H, W) bool.
        levels: (n,) SAM level of each mask.
        chunk_size: masks per intersection product (bounds memory; the result is the same).
    """
    levels = torch.as_tensor(levels, device=masks.device)
    flat = masks.flatten(1)
    kept = torch.zeros(0, dtype=torch.long, device=masks.device)
    for level in reversed(range(SAM_AUTO_LEVELS)):
        idx = (levels == level).nonzero(as_tuple=True)[0]
        if not len(kept):
            kept = idx
            continue
        if not len(idx):
            continue
        ref = flat[kept].float().t()  # (HW, k)
        recall = []
        for i in range(0, len(idx), max(1, chunk_size)):
            part = flat[idx[i:i + max(1, chunk_size)]].float()
            recall.append((part @ ref) / part.sum(1, keepdim=True))
        max_recall = torch.cat(recall).amax(1)
        kept = torch.cat([kept, idx[max_recall < thresh]])
    return kept


class SamAutoMaskGenerator:
    """Batched port of the official FMA-WSSS mask generator: multi-level SAM "everything"
    masks on a point grid (HAL-42/FMA-WSSS ``src/libs/sam/custom_sam/sam_auto.py: SamAuto``,
    a subclass of ``segment_anything.SamAutomaticMaskGenerator``; run by
    ``src/tasks/sam_auto_seg/run.py``; pattern ``'l2_nmsf_s1_rsw3'`` by default, as the
    official ``configs/VOC/sams/cfg.py`` and ``configs/COCO/sams/cfg.py``).

    The same steps as the official ``SamAuto.generate``, reimplemented on top of
    ``BatchedSamPredictor`` (all crops of all images encoded in one chunked pass, the grid points of
    all crops decoded together):

    1. crops (``_generate_masks``; ``amg.generate_crop_boxes``): the whole image plus, for
       ``crop_n_layers=1``, 2×2 overlapping crops; each crop is encoded on its own with the
       point grid ``points_per_side / crop_n_points_downscale_factor ** layer``;
    2. every point gives SAM's 3 multimask outputs; the mask of level ``l`` keeps its
       ``level`` (``_process_batch``);
    3. predicted IoU ``+ score_thresh_offset[l] > pred_iou_thresh`` (strict, skipped when the
       threshold is 0); stability score (``amg.calculate_stability_score``, cut-offs
       ``mask_threshold ± stability_score_offset``) ``+ stability_score_bias[l] >=
       stability_score_thresh``; masks whose box touches a crop edge that is not an image edge
       are dropped (``amg.is_box_near_crop_edge``);
    4. box NMS inside each crop (``box_nms_thresh``) ranked by predicted IoU
       ``+ score_nms_offset[l]`` (``_process_crop``): with ``(0, 0, 1)`` a whole-object mask
       beats any overlapping part mask;
    5. NMS between crops (``crop_nms_thresh``) preferring smaller crops (``_generate_masks``);
    6. small-region clean-up (``SamAutomaticMaskGenerator.postprocess_small_regions``;
       ``amg.remove_small_regions``): holes then islands below ``min_mask_region_area`` px,
       then NMS (``max(box_nms_thresh, crop_nms_thresh)``) preferring unchanged masks;
    7. the "rock-sand-water" filter (``rock_sand_water``), if ``rock_sand_water_thresh``.

    Args:
        predictor: a ``BatchedSamPredictor``.
        pattern: a key of ``SAM_AUTO_PATTERNS`` (the official settings) or ``None``
            (``'official_default'``).
        **overrides: any setting of the pattern (the ``SamAuto`` argument names).

    ``generate`` returns per image a dict: ``masks`` (n, H, W) bool, ``levels`` (n,) long,
    ``iou_preds`` (n,) (without offsets), ``stability_scores`` (n,), ``boxes`` (n, 4) xyxy,
    ``crop_boxes`` (n, 4) xyxy, in the official order (after NMS / rock-sand-water).
    """

    KEYS = tuple(_SAM_AUTO_BASE)

    def __init__(self, predictor: BatchedSamPredictor, pattern: Optional[str] = 'l2_nmsf_s1_rsw3',
                 **overrides) -> None:
        from segment_anything.utils.amg import build_all_layer_point_grids
        key = pattern or 'official_default'
        if key not in SAM_AUTO_PATTERNS:
            raise KeyError(f'SamAuto pattern {pattern!r}: use one of {sorted(SAM_AUTO_PATTERNS)}')
        unknown = set(overrides) - set(self.KEYS)
        if unknown:
            raise KeyError(f'unknown SamAuto settings {sorted(unknown)}; known: {self.KEYS}')
        cfg = dict(SAM_AUTO_PATTERNS[key], **overrides)
        self.predictor = predictor
        self.pattern = key
        self.cfg = cfg
        for k, v in cfg.items():
            setattr(self, k, v)
        for k in ('score_thresh_offset', 'score_nms_offset', 'stability_score_bias'):
            t = torch.as_tensor(cfg[k], dtype=torch.float)
            if t.shape != (SAM_AUTO_LEVELS,):
                raise ValueError(f'{k} {cfg[k]}: one value per SAM level (3)')
            setattr(self, k, t)
        self.point_grids = [torch.as_tensor(g, dtype=torch.float) for g in
                            build_all_layer_point_grids(self.points_per_side, self.crop_n_layers,
                                                        self.crop_n_points_downscale_factor)]

    @property
    def mask_threshold(self) -> float:
        return self.predictor.sam.mask_threshold

    # ------------------------------------------------------------------ steps
    def filter_masks(self, logits: Tensor, iou_preds: Tensor, crop_box: Sequence[int],
                     orig_size: Tuple[int, int], levels: Optional[Tensor] = None) -> dict:
        """Official ``SamAuto._process_batch`` after the decoder: thresholds and crop-edge
        filter of mask logits at the crop's size.

        Args:
            logits: (n, H_c, W_c) mask logits (n = points × 3 in the official order).
            iou_preds: (n,) predicted IoUs.
            crop_box: xyxy crop in the image; orig_size: the image's (H, W).
            levels: (n,) level of each mask (default: 0, 1, 2 repeated).

        Returns: dict of ``masks`` (bool, crop frame), ``boxes`` (crop frame), ``iou_preds``,
        ``iou_preds_nms``, ``stability_scores``, ``levels`` of the kept masks.
        """
        from segment_anything.utils.amg import (batched_mask_to_box, calculate_stability_score,
                                                is_box_near_crop_edge)
        dev = logits.device
        if levels is None:
            levels = torch.arange(SAM_AUTO_LEVELS, device=dev).repeat(len(logits) // 3)
        levels = levels.to(dev).long()
        iou_preds = iou_preds.to(dev).float()
        keep = torch.ones(len(logits), dtype=torch.bool, device=dev)
        if self.pred_iou_thresh > 0.0:
            keep = iou_preds + self.score_thresh_offset.to(dev)[levels] > self.pred_iou_thresh
        logits, iou_preds, levels = logits[keep], iou_preds[keep], levels[keep]
        stability = calculate_stability_score(logits, self.mask_threshold,
                                              self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            keep = (stability + self.stability_score_bias.to(dev)[levels]
                    >= self.stability_score_thresh)
            logits, iou_preds, levels, stability = (logits[keep], iou_preds[keep], levels[keep],
                                                    stability[keep])
        masks = logits > self.mask_threshold
        boxes = batched_mask_to_box(masks)
        h, w = orig_size
        keep = ~is_box_near_crop_edge(boxes, list(crop_box), [0, 0, w, h])
        return dict(masks=masks[keep], boxes=boxes[keep], iou_preds=iou_preds[keep],
                    iou_preds_nms=iou_preds[keep] + self.score_nms_offset.to(dev)[levels[keep]],
                    stability_scores=stability[keep], levels=levels[keep])

    def crop_nms(self, data: dict, crop_box: Sequence[int], orig_size: Tuple[int, int]) -> dict:
        """Official ``SamAuto._process_crop`` after the batches: box NMS of one crop's masks
        ranked by ``iou_preds_nms``, then masks and boxes moved to the image frame
        (``amg.uncrop_masks``, ``amg.uncrop_boxes_xyxy``)."""
        from segment_anything.utils.amg import uncrop_boxes_xyxy, uncrop_masks
        from torchvision.ops import batched_nms
        keep = batched_nms(data['boxes'].float(), data['iou_preds_nms'],
                           torch.zeros_like(data['boxes'][:, 0]),
                           iou_threshold=self.box_nms_thresh)
        out = {k: v[keep] for k, v in data.items()}
        h, w = orig_size
        out['masks'] = uncrop_masks(out['masks'], list(crop_box), h, w)
        out['boxes'] = uncrop_boxes_xyxy(out['boxes'], list(crop_box))
        out['crop_boxes'] = torch.tensor([list(crop_box)] * len(keep),
                                         device=out['boxes'].device).reshape(-1, 4)
        return out

    def merge_crops(self, crops: List[dict]) -> dict:
        """Official ``SamAutomaticMaskGenerator._generate_masks``: the crops' masks in crop
        order, NMS between crops (``crop_nms_thresh``) preferring the smaller crop."""
        from torchvision.ops import batched_nms, box_area
        data = {k: torch.cat([c[k] for c in crops]) for k in crops[0]}
        if len(crops) > 1:
            scores = 1 / box_area(data['crop_boxes']).float()
            keep = batched_nms(data['boxes'].float(), scores,
                               torch.zeros_like(data['boxes'][:, 0]),
                               iou_threshold=self.crop_nms_thresh)
            data = {k: v[keep] for k, v in data.items()}
        return data

    def remove_small_regions(self, data: dict) -> dict:
        """Official ``SamAutomaticMaskGenerator.postprocess_small_regions``: fill holes and
        remove islands below ``min_mask_region_area`` px (``amg.remove_small_regions``), new
        boxes, NMS (``max(box_nms_thresh, crop_nms_thresh)``) with score 1 for unchanged and 0
        for changed masks."""
        from segment_anything.utils.amg import batched_mask_to_box, remove_small_regions
        from torchvision.ops import batched_nms
        if not len(data['masks']):
            return data
        new_masks, scores = [], []
        for m in data['masks'].cpu().numpy():
            m, changed = remove_small_regions(m, self.min_mask_region_area, mode='holes')
            unchanged = not changed
            m, changed = remove_small_regions(m, self.min_mask_region_area, mode='islands')
            new_masks.append(torch.as_tensor(m))
            scores.append(float(unchanged and not changed))
        masks = torch.stack(new_masks).to(data['masks'].device)
        boxes = batched_mask_to_box(masks)
        keep = batched_nms(boxes.float(), torch.tensor(scores, device=boxes.device),
                           torch.zeros_like(boxes[:, 0]),
                           iou_threshold=max(self.box_nms_thresh, self.crop_nms_thresh))
        out = {k: v[keep] for k, v in data.items()}
        out['masks'], out['boxes'] = masks[keep], boxes[keep].to(out['boxes'])
        return out

    def rock_sand_water(self, data: dict) -> dict:
        """Official ``SamAuto.rock_sand_water`` (see ``rock_sand_water``)."""
        if not len(data['masks']):
            return data
        keep = rock_sand_water(data['masks'], data['levels'], self.rock_sand_water_thresh)
        return {k: v[keep] for k, v in data.items()}

    # --------------------------------------------------------------- generate
    @torch.no_grad()
    def generate(self, images: Sequence[Tensor], bgr: bool = False) -> List[dict]:
        """Masks of a list of C×H×W images (uint8 or float 0..255, RGB unless ``bgr``)."""
        from segment_anything.utils.amg import generate_crop_boxes
        if not len(images):
            return []
        pred = self.predictor
        crops, crop_imgs = [], []  # (image, crop box, layer)
        for i, img in enumerate(images):
            h, w = img.shape[-2:]
            boxes, layers = generate_crop_boxes((h, w), self.crop_n_layers,
                                                self.crop_overlap_ratio)
            for box, layer in zip(boxes, layers):
                x0, y0, x1, y1 = box
                crops.append((i, box, layer))
                crop_imgs.append(img[:, y0:y1, x0:x1])
        feats = pred.encode(crop_imgs, bgr=bgr)
        grids = [self.point_grids[layer] * torch.tensor(
            [[box[2] - box[0], box[3] - box[1]]], dtype=torch.float) for _, box, layer in crops]
        crop_index = torch.cat([torch.full((len(g),), j, dtype=torch.long)
                                for j, g in enumerate(grids)])
        coords = torch.cat(grids)[:, None, :]
        per_crop: List[List[dict]] = [[] for _ in crops]
        step = pred.decoder_batch_size
        for start in range(0, len(coords), step):
            idx = crop_index[start:start + step]
            labels = torch.ones(len(idx), 1, dtype=torch.long)
            low_res, ious = pred.decode(feats, idx, points=(coords[start:start + step], labels),
                                        multimask_output=True)
            for j in idx.unique().tolist():
                sel = (idx == j).to(low_res.device)
                s = low_res.shape[-1]
                logits = pred.postprocess(low_res[sel].reshape(-1, 1, s, s), feats, j,
                                          return_logits=True)
                i, box, _ = crops[j]
                per_crop[j].append(self.filter_masks(logits, ious[sel].flatten(), box,
                                                     tuple(images[i].shape[-2:])))
        out = []
        for i, img in enumerate(images):
            size = tuple(img.shape[-2:])
            data = [self.crop_nms({k: torch.cat([b[k] for b in per_crop[j]])
                                   for k in per_crop[j][0]}, box, size)
                    for j, (ii, box, _) in enumerate(crops) if ii == i]
            data = self.merge_crops(data)
            if self.min_mask_region_area > 0:
                data = self.remove_small_regions(data)
            if self.rock_sand_water_thresh is not None:
                data = self.rock_sand_water(data)
            data.pop('iou_preds_nms')
            out.append(data)
        return out
