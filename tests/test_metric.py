"""Metrics against independent computations."""
import numpy as np
import pytest
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


def test_cam_metric_keeps_fine_thresholds_apart_and_names_an_unannotated_set():
    from mmwsss.evaluation import CAMMetric
    gt = torch.zeros(1, 4, 4, dtype=torch.long)
    gt[0, :2] = 1
    cam = torch.zeros(1, 4, 4)
    cam[0, :2], cam[0, 2:, :1] = 0.6, 0.251  # the object, and a false activation at 0.251
    metric = CAMMetric(thresholds=[0.245, 0.2475, 0.25, 0.2525, 0.255])
    metric.dataset_meta = dict(classes=('background', 'thing'))
    sample = dict(pred_cam=dict(data=cam), gt_sem_seg=dict(data=gt))
    metric.process({}, [sample])
    res = metric.evaluate(1)
    # only thresholds above 0.251 drop the false activation: the best is 0.2525, not "0.25"
    assert res['bg_threshold'] == 0.2525 and res['mIoU'] == 100.0
    assert res['mIoU@0.25'] < 100.0 and res['mIoU@0.2525'] == 100.0
    assert len([k for k in res if k.startswith('mIoU@')]) == 5
    metric.process({}, [dict(sample, gt_sem_seg=dict(data=torch.full_like(gt, 255)))])
    with pytest.raises(ValueError, match='no annotated pixel'):
        metric.evaluate(1)


def test_sweep_rejects_labels_beyond_the_cam_classes():
    import pytest
    cams = torch.rand(2, 3, 3)
    gt = torch.zeros(3, 3, dtype=torch.long)
    gt[0, 0] = 255  # ignored: fine
    threshold_sweep_histogram(cams, gt, torch.tensor([0.5]))
    gt[1, 1] = 3  # a class the CAMs do not have (num_classes mismatch)
    with pytest.raises(ValueError, match='0..2 or 255'):
        threshold_sweep_histogram(cams, gt, torch.tensor([0.5]))


def test_cam_metric_on_ranks_drops_the_samplers_padding(monkeypatch):
    """DefaultSampler pads the last round with repeats of the first images; the per-rank
    running sums must give what one process gives (as collect_results' cut does)."""
    from mmengine.dataset import DefaultSampler

    from mmwsss.evaluation import CAMMetric, cam_metric
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(5):
        gt = torch.from_numpy(rng.integers(0, 3, (1, 6, 7)))
        samples.append(dict(pred_cam=dict(data=torch.rand(2, 6, 7)), gt_sem_seg=dict(data=gt)))
    meta = dict(classes=('background', 'a', 'b'))

    def metric():
        m = CAMMetric(thresholds=[0.2, 0.5, 0.8])
        m.dataset_meta = meta
        return m

    def collect(m, rank, world, samples_in_order):
        """This rank's entries as collect_results receives them."""
        monkeypatch.setattr(cam_metric, 'get_dist_info', lambda: (rank, world))
        for sample in samples_in_order:  # batches of one image
            m.process({}, [sample])
        return m.evaluate(len(samples))

    # BaseMetric.evaluate would collect and compute: here it hands back this rank's entries
    monkeypatch.setattr(CAMMetric.__bases__[0], 'evaluate', lambda self, size: self.results)
    ref = metric().compute_metrics(collect(metric(), 0, 1, samples))
    world = 4  # 5 images on 4 ranks: ranks 1..3 each end with a repeat of images 0..2
    collected = []
    for rank in range(world):
        monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda r=rank: (r, world))
        order = list(DefaultSampler(list(range(5)), shuffle=False))
        assert len(order) == 2
        collected += collect(metric(), rank, world, [samples[i] for i in order])
    assert len(collected) == world  # one entry per rank, as collect_results zips them
    assert metric().compute_metrics(collected) == ref
    with_repeats = collect(metric(), 0, 1, samples + samples[:3])
    assert metric().compute_metrics(with_repeats) != ref  # the repeats would change it


def test_metrics_json_is_strict_json(tmp_path):
    """An mIoU with nothing to score is NaN; the JSON tools write must still parse anywhere."""
    import json

    from mmwsss.utils.io import dump_json_atomic
    path = str(tmp_path / 'm.json')
    dump_json_atomic(dict(mIoU=float('nan'), aAcc=np.float32(12.5), IoU=dict(a=torch.tensor(
        float('inf')), b=np.float64(3.0))), path)
    text = open(path).read()
    assert 'NaN' not in text and 'Infinity' not in text
    assert json.loads(text) == dict(mIoU=None, aAcc=12.5, IoU=dict(a=None, b=3.0))
