"""Confusion matrices and IoU for label maps and thresholded CAMs.

Conventions: ``K`` classes including background (index 0); ground-truth pixels equal to
``ignore_index`` are left out; a *prediction* of ``ignore_index`` (a pseudo-label that
abstains) counts in an extra last column, so it is a miss for the true class and never a
hit. mIoU is the mean over the K classes.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from prettytable import PrettyTable


def confusion_matrix(pred: torch.Tensor, gt: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """(K, K+1) int64 counts: row = truth, column = prediction, last column = abstained."""
    pred, gt = torch.as_tensor(pred).flatten().long(), torch.as_tensor(gt).flatten().long()
    if pred.shape != gt.shape:
        raise ValueError(f'prediction and ground truth sizes differ: {pred.numel()} vs {gt.numel()}')
    valid = gt != ignore_index
    pred, gt = pred[valid], gt[valid]
    pred = torch.where(pred == ignore_index, torch.full_like(pred, num_classes), pred)
    if (pred > num_classes).any() or (pred < 0).any() or (gt >= num_classes).any() or (gt < 0).any():
        raise ValueError(f'label values must be in 0..{num_classes - 1} or {ignore_index}')
    counts = torch.bincount(gt * (num_classes + 1) + pred,
                            minlength=num_classes * (num_classes + 1))
    return counts.view(num_classes, num_classes + 1).cpu()


def threshold_sweep_histogram(cams: torch.Tensor, gt: torch.Tensor, thresholds: torch.Tensor,
                              ignore_index: int = 255) -> torch.Tensor:
    """Counts from which the confusion matrix of every background threshold follows.

    ``cams`` (C, H, W) are normalised CAMs of the C foreground classes (absent classes
    zeroed). A pixel with top score ``s`` and top class ``c`` is labelled ``c + 1`` at every
    threshold ``t < s`` and background otherwise. Returns ``hist`` (T+1, K, K) with
    ``hist[k, g, p]`` the pixels of truth ``g``, foreground argmax label ``p`` and exactly ``k``
    thresholds below their score; ``sweep_confusions`` turns it into T confusion matrices.
    One bincount per image serves all thresholds.
    """
    num_classes = cams.shape[0] + 1
    score, cls = cams.max(dim=0)
    gt = gt.to(cams.device).long()
    valid = gt != ignore_index
    if ((gt < 0) | (gt >= num_classes)).logical_and(valid).any():
        raise ValueError(f'label values must be in 0..{num_classes - 1} or {ignore_index} for '
                         f'CAMs of {num_classes - 1} classes (does num_classes match the '
                         'dataset?)')
    bucket = torch.bucketize(score[valid].float(), thresholds.to(cams.device).float())
    n_t = thresholds.numel() + 1
    idx = (bucket * num_classes + gt[valid]) * num_classes + cls[valid] + 1
    hist = torch.bincount(idx, minlength=n_t * num_classes * num_classes)
    return hist.view(n_t, num_classes, num_classes).cpu()


def sweep_confusions(hist: torch.Tensor) -> torch.Tensor:
    """(T+1, K, K) histogram → (T, K, K+1) confusion matrices, one per threshold."""
    n_t, k, _ = hist.shape
    # pixels labelled foreground at threshold j: those with more than j thresholds below score
    fg = hist.flip(0).cumsum(0).flip(0)[1:]  # fg[j] = sum_{b > j} hist[b]
    bg = hist.cumsum(0)[:-1].sum(-1)  # bg[j][g] = pixels with at most j thresholds below
    conf = torch.zeros(n_t - 1, k, k + 1, dtype=torch.int64)
    conf[:, :, :k] = fg
    conf[:, :, 0] += bg
    return conf


def iou_from_confusion(conf: torch.Tensor) -> torch.Tensor:
    """Per-class IoU from a (..., K, K+1) confusion matrix; NaN for a class never seen."""
    conf = conf.double()
    k = conf.shape[-2]
    tp = torch.diagonal(conf[..., :k], dim1=-2, dim2=-1)
    union = conf.sum(-1) + conf[..., :k].sum(-2) - tp
    return torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float('nan')))


def summarize_confusion(conf: torch.Tensor) -> Dict[str, float]:
    """mIoU, pixel accuracy and labelled fraction (in %) of one (K, K+1) confusion matrix."""
    iou = iou_from_confusion(conf)
    total = conf.sum().clamp(min=1).double()
    k = conf.shape[0]
    return dict(
        mIoU=float(np.nanmean(iou.numpy())) * 100,
        aAcc=float(torch.diagonal(conf[:, :k]).sum() / total) * 100,
        labelled=float(conf[:, :k].sum() / total) * 100)


def per_class_table(iou: torch.Tensor, class_names: Sequence[str],
                    extra: Optional[Dict[str, Sequence[float]]] = None) -> str:
    """A text table of per-class IoU (and optional extra columns), in %."""
    table = PrettyTable()
    table.add_column('Class', list(class_names))
    table.add_column('IoU', [f'{v * 100:.2f}' for v in iou.tolist()])
    for name, values in (extra or {}).items():
        table.add_column(name, [f'{v * 100:.2f}' for v in values])
    return table.get_string()


def threshold_key(t: float) -> str:
    """A threshold as the metric keys write it: two decimals on the 0.01 grid (``0.25``),
    as many as it needs off it (``0.2525``), so finer sweeps do not share a key."""
    t = float(t)
    return f'{t:.2f}' if abs(t - round(t, 2)) < 1e-6 else f'{t:.6g}'


def default_thresholds() -> List[float]:
    """0.00 to 0.99 in steps of 0.01: SEAM's evaluation.py sweeps 0.00-0.59, extended because
    a CAM method's best threshold can lie above 0.6 (one histogram serves all, so it is free)."""
    return [round(i / 100, 2) for i in range(100)]
