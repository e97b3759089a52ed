"""CAM mIoU with a background-threshold sweep, as WSSS papers report it."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmwsss.registry import METRICS
from mmwsss.models.utils import cams_to_label_map
from .boundary import boundary_counts, boundary_fscore
from .functional import (default_thresholds, iou_from_confusion, per_class_table,
                         summarize_confusion, sweep_confusions, threshold_key,
                         threshold_sweep_histogram)


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """mIoU of CAMs turned into label maps for each background threshold of a sweep.

    Each image's ``pred_cam`` (C×H×W, normalised, absent classes zeroed) is labelled
    ``argmax`` over ``[t, cam_1 .. cam_C]`` for every threshold ``t``, against
    ``gt_sem_seg``. Reports the best threshold's mIoU (key ``mIoU``), the threshold
    (``bg_threshold``), mIoU at every threshold (``mIoU@t``) and logs the per-class table of
    the best one. Accumulates one small histogram per rank, not per-image arrays, so memory
    does not grow with the dataset. Under several ranks, MMEngine's ``DefaultSampler`` pads the
    last round with repeats of the first images and ``collect_results`` drops them by
    position; a running sum cannot be cut afterwards, so each rank keeps its last image
    apart until ``evaluate`` knows the dataset size and drops it if it is such a repeat.

    With ``boundary_thresholds`` it also reports HFPL's contour quality, the boundary
    F-score (``mBF@t``, ``evaluation/boundary.py``) of the label maps at those thresholds, and
    as ``mBF`` at the one nearest the best-mIoU threshold.

    Args:
        thresholds: background scores to sweep; default 0.00..0.99 step 0.01 (SEAM sweeps
            0.00..0.59).
        boundary_thresholds: thresholds at which to measure the boundary F-score (HFPL's
            ``contour_fscore.py`` uses 0.25 for SEAM CAMs); None skips it.
        bound_th: boundary match tolerance as a fraction of the image diagonal.
        ignore_index: ground-truth value left out.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 thresholds: Optional[Sequence[float]] = None,
                 boundary_thresholds: Optional[Sequence[float]] = None,
                 bound_th: float = 0.008,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thresholds = torch.tensor(sorted(thresholds or default_thresholds()),
                                       dtype=torch.float32)
        self.boundary_thresholds = list(boundary_thresholds or [])
        self.bound_th = bound_th
        self.ignore_index = ignore_index
        self._last: Optional[dict] = None  # this rank's latest image, not yet in the sum
        self._seen = 0  # images this rank processed since the last evaluate

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            cam = ds['pred_cam']['data']
            if 'gt_sem_seg' not in ds:
                why = (f'its mask cannot be used: {ds["mask_error"]}' if ds.get('mask_error')
                       else "the dataset's seg_map_path has none for it")
                raise KeyError(f'{ds.get("img_path")}: no mask to score its CAM against ({why})')
            gt = ds['gt_sem_seg']['data'].squeeze(0)
            if cam.shape[-2:] != gt.shape[-2:]:
                raise ValueError(f'{ds.get("img_path")}: CAM size {tuple(cam.shape[-2:])} differs '
                                 f'from mask size {tuple(gt.shape[-2:])}')
            part = dict(hist=threshold_sweep_histogram(cam, gt, self.thresholds,
                                                       self.ignore_index))
            if self.boundary_thresholds:
                part['boundary'] = np.stack([
                    boundary_counts(cams_to_label_map(cam, t).cpu().numpy(), gt.cpu().numpy(),
                                    cam.shape[0] + 1, self.bound_th)
                    for t in self.boundary_thresholds])
            self._add_last()
            self._last, self._seen = part, self._seen + 1

    def _add_last(self) -> None:
        """Fold the held-back image into this rank's running sum (memory does not grow)."""
        if self._last is None:
            return
        if self.results:
            for k, v in self._last.items():
                self.results[0][k] += v
        else:
            self.results.append(self._last)
        self._last = None

    def evaluate(self, size: int) -> dict:
        rank, world_size = get_dist_info()
        # DefaultSampler hands rank r the samples r, r + W, r + 2W, ... of the padded order;
        # positions from `size` on repeat earlier images (what collect_results cuts off)
        if self._last is not None and (self._seen - 1) * world_size + rank >= size:
            self._last = None
        self._add_last()
        self._seen = 0
        if not self.results:  # every rank sends one entry: collect_results zips the ranks
            self.results.append({})
        return super().evaluate(size)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        results = [r for r in results if r]
        if not results:
            raise ValueError('CAMMetric: no image was evaluated')
        confs = sweep_confusions(sum(r['hist'] for r in results))
        if not confs[0].sum():
            raise ValueError('CAMMetric: the evaluated images have no annotated pixel (every '
                             f'mask pixel is ignore_index={self.ignore_index}): nothing to score')
        mious = np.nanmean(iou_from_confusion(confs).numpy(), axis=1)
        best = int(np.nanargmax(mious))
        class_names = self.dataset_meta['classes']
        table = per_class_table(iou_from_confusion(confs[best]), class_names)
        print_log('CAM mIoU per background threshold:\n' + ', '.join(
            f'{threshold_key(t)}: {m * 100:.2f}' for t, m in zip(self.thresholds.tolist(), mious)),
                  logger=logger)
        print_log(f'per-class IoU at the best threshold {threshold_key(self.thresholds[best])}:\n'
                  + table,
                  logger=logger)
        metrics = summarize_confusion(confs[best])
        metrics = dict(mIoU=round(metrics['mIoU'], 2), aAcc=round(metrics['aAcc'], 2),
                       bg_threshold=round(float(self.thresholds[best]), 6))
        for t, m in zip(self.thresholds.tolist(), mious):
            metrics[f'mIoU@{threshold_key(t)}'] = round(float(m) * 100, 2)
        if self.boundary_thresholds:
            counts = sum(r['boundary'] for r in results)
            bfs = [boundary_fscore(c)['mBF'] for c in counts]
            for t, bf in zip(self.boundary_thresholds, bfs):
                metrics[f'mBF@{threshold_key(t)}'] = round(bf, 2)
            # at the boundary threshold nearest the best-mIoU one
            nearest = int(np.argmin([abs(t - metrics['bg_threshold'])
                                     for t in self.boundary_thresholds]))
            metrics['mBF'] = round(bfs[nearest], 2)
        return metrics
