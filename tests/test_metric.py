"""Metrics against independent computations."""
import numpy as np
import torch

from mmwsss.evaluation.functional import (confusion_matrix, iou_from_confusion,
                                          summarize_confusion, sweep_confusions,
                                          threshold_sweep_histogram)


def numpy_confusion(pred, gt, k, ignore=255):
    """Independent: explicit loops over pixels (slow but obviously right)."""
    conf = np.zeros((k, k + 1), np.int64)
    for p, g in zip(pred.ravel(), gt.ravel()):
        if g == ignore:
            continue
        conf[g, k if p == ignore else p] += 1
    return conf


def test_confusion_matrix_matches_pixel_loop():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 4, (17, 13))
    gt[rng.random(gt.shape) < 0.1] = 255
    pred = rng.integers(0, 4, (17, 13))
    pred[rng.random(pred.shape) < 0.1] = 255
    conf = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(gt), 4)
    assert np.array_equal(conf.numpy(), numpy_confusion(pred, gt, 4))


def test_iou_by_hand():
    # truth: [0 0 1 1], prediction: [0 1 1 255]
    conf = confusion_matrix(torch.tensor([0, 1, 1, 255]), torch.tensor([0, 0, 1, 1]), 2)
    iou = iou_from_confusion(conf)
    # class 0: TP 1, FN 1 (pred 1), FP 0 -> 1/2 ; class 1: TP 1, FN 1 (abstained), FP 1 -> 1/3
    assert torch.allclose(iou, torch.tensor([0.5, 1 / 3], dtype=torch.float64))
    s = summarize_confusion(conf)
    assert abs(s['mIoU'] - (0.5 + 1 / 3) / 2 * 100) < 1e-9
    assert abs(s['labelled'] - 75.0) < 1e-9


def test_class_never_seen_is_nan_not_zero():
    conf = confusion_matrix(torch.tensor([0, 0]), torch.tensor([0, 0]), 3)
    iou = iou_from_confusion(conf)
    assert iou[0] == 1 and torch.isnan(iou[1:]).all()


def test_threshold_sweep_equals_direct_thresholding():
    rng = np.random.default_rng(1)
    c, h, w = 3, 11, 9
    cams = torch.from_numpy(rng.random((c, h, w))).float()
    cams[1] = 0  # an absent class
    gt = torch.from_numpy(rng.integers(0, c + 1, (h, w)))
    gt[0, :3] = 255
    thresholds = torch.tensor([0.0, 0.2, 0.35, 0.5, 0.9, 0.999])
    confs = sweep_confusions(threshold_sweep_histogram(cams, gt, thresholds))
    for j, t in enumerate(thresholds.tolist()):
        bg = torch.full((1, h, w), t)
        pred = torch.cat([bg, cams]).argmax(0)  # ties go to background (index 0)
        direct = numpy_confusion(pred.numpy(), gt.numpy(), c + 1)
        assert np.array_equal(confs[j].numpy(), direct), f'threshold {t}'


def test_cam_metric_picks_best_threshold():
    from mmwsss.evaluation import CAMMetric
    gt = torch.zeros(1, 8, 8, dtype=torch.long)
    gt[0, 2:6, 2:6] = 1
    cam = torch.zeros(1, 8, 8)
    cam[0, 2:6, 2:6] = 0.6  # object
    cam[0, 0, :] = 0.3  # a weak false activation on background
    metric = CAMMetric(thresholds=[0.1, 0.4, 0.7])
    metric.dataset_meta = dict(classes=('background', 'thing'))
    sample = dict(pred_cam=dict(data=cam), gt_sem_seg=dict(data=gt))
    metric.process({}, [sample, sample])
    res = metric.evaluate(2)
    assert res['bg_threshold'] == 0.4 and res['mIoU'] == 100.0
    assert res['mIoU@0.70'] == 37.5  # all background: IoU 48/64 and 0
    assert res['mIoU@0.10'] < 100.0
