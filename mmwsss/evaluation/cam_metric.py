"""CAM mIoU with a background-threshold sweep, as WSSS papers report it."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmwsss.registry import METRICS
from .functional import (default_thresholds, iou_from_confusion, per_class_table,
                         summarize_confusion, sweep_confusions, threshold_sweep_histogram)


@METRICS.register_module()
class CAMMetric(BaseMetric):
    """mIoU of CAMs turned into label maps for each background threshold of a sweep.

    Each image's ``pred_cam`` (C×H×W, normalised, absent classes zeroed) is labelled
    ``argmax`` over ``[t, cam_1 .. cam_C]`` for every threshold ``t``, against
    ``gt_sem_seg``. Reports the best threshold's mIoU (key ``mIoU``), the threshold
    (``bg_threshold``), mIoU at every threshold (``mIoU@t``) and logs the per-class table of
    the best one. Accumulates one small histogram per rank, not per-image arrays, so memory
    does not grow with the dataset.

    Args:
        thresholds: background scores to sweep; default 0.00..0.59 step 0.01 (SEAM).
        ignore_index: ground-truth value left out.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 thresholds: Optional[Sequence[float]] = None,
                 ignore_index: int = 255,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thresholds = torch.tensor(sorted(thresholds or default_thresholds()),
                                       dtype=torch.float32)
        self.ignore_index = ignore_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            cam = ds['pred_cam']['data']
            gt = ds['gt_sem_seg']['data'].squeeze(0)
            if cam.shape[-2:] != gt.shape[-2:]:
                raise ValueError(f'{ds.get("img_path")}: CAM size {tuple(cam.shape[-2:])} differs '
                                 f'from mask size {tuple(gt.shape[-2:])}')
            hist = threshold_sweep_histogram(cam, gt, self.thresholds, self.ignore_index)
            if self.results:
                self.results[0] += hist
            else:
                self.results.append(hist)

    def compute_metrics(self, results: List[torch.Tensor]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        confs = sweep_confusions(sum(results))
        mious = np.nanmean(iou_from_confusion(confs).numpy(), axis=1)
        best = int(np.nanargmax(mious))
        class_names = self.dataset_meta['classes']
        table = per_class_table(iou_from_confusion(confs[best]), class_names)
        print_log(f'CAM mIoU per background threshold:\n' + ', '.join(
            f'{t:.2f}: {m * 100:.2f}' for t, m in zip(self.thresholds.tolist(), mious)),
                  logger=logger)
        print_log(f'per-class IoU at the best threshold {self.thresholds[best]:.2f}:\n' + table,
                  logger=logger)
        metrics = summarize_confusion(confs[best])
        metrics = dict(mIoU=round(metrics['mIoU'], 2), aAcc=round(metrics['aAcc'], 2),
                       bg_threshold=round(float(self.thresholds[best]), 2))
        for t, m in zip(self.thresholds.tolist(), mious):
            metrics[f'mIoU@{t:.2f}'] = round(float(m) * 100, 2)
        return metrics
