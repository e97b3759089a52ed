"""HFPL: importance sampling statistics and gradients, feature similarity loss, boundary F."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample

from conftest import ROOT
from mmwsss.evaluation.boundary import boundary_counts, boundary_fscore, seg2bmap
from mmwsss.registry import MODELS

IDENTITY_NORM = dict(mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0))  # inputs already in [0, 1]


def _sample(labels):
    ds = SegDataSample(metainfo=dict(ori_shape=(8, 8), img_shape=(8, 8)))
    ds.set_field(torch.tensor(labels), 'gt_img_labels')
    return ds


def test_sampled_scores_match_expectation_under_cam_distribution():
    torch.manual_seed(0)
    pool = MODELS.build(dict(type='importance_sampling', num_samples=20000)).train()
    cams = torch.randn(2, 3, 5, 4) * 3
    samples = pool.sample(cams)
    assert samples.shape == (2, 3, 20000)
    p = torch.sigmoid(cams).flatten(2) + 1e-5
    expected = (p * cams.flatten(2)).sum(-1) / p.sum(-1)
    assert torch.allclose(samples.mean(-1), expected, atol=0.08)
    # every sample is one of the CAM's own logits
    flat = cams.flatten(2)
    assert all(torch.isin(samples[n, c], flat[n, c]).all() for n in range(2) for c in range(3))
    # a pixel that dominates the sigmoid mass dominates the draws
    peaked = torch.full((1, 1, 4, 4), -20.0)
    peaked[0, 0, 1, 2] = 5.0
    assert (pool.sample(peaked) == 5.0).float().mean() > 0.99


def test_importance_sampling_loss_blends_with_gap_and_reaches_the_cam():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='CAMHead', in_channels=2, num_classes=2,
                             pooling=dict(type='importance_sampling', num_samples=4,
                                          sample_loss_weight=1.0))).train()
    cams = torch.randn(1, 2, 6, 6, requires_grad=True)
    loss = head.loss_by_cams(cams, [_sample([1])])['loss_cls']
    loss.backward()
    grad = cams.grad.abs().flatten(2)
    # weight 1 on the samples: only sampled pixels (at most 4 per class) get a gradient
    assert ((grad > 0).sum(-1) <= 4).all() and (grad.sum(-1) > 0).all()
    head.pooling.sample_loss_weight = 0.0  # pure GAP: every pixel gets gradient
    cams.grad = None
    head.loss_by_cams(cams, [_sample([1])])['loss_cls'].backward()
    assert (cams.grad.abs() > 0).all()
    assert torch.allclose(head.pooling.sample_weights.sum(), torch.tensor(1.0))
    head.eval()
    assert head.pooling(cams).shape == (1, 2)  # plain GAP at inference
    with pytest.raises(ValueError, match='num_samples must be at least 1, got 0'):
        MODELS.build(dict(type='importance_sampling', num_samples=0))


def test_importance_sampling_draws_at_feature_resolution_while_gap_averages_the_input_size():
    """arvijj/hfpl train_cam_voc.py: the GAP term pools Net.forward's upsampled ``cam``,
    ``sample_probs`` draws from ``logits1``, the head's own resolution."""
    torch.manual_seed(0)
    pool = MODELS.build(dict(type='importance_sampling', num_samples=50)).train()
    cams = torch.randn(2, 3, 5, 6)
    upsampled = torch.nn.functional.interpolate(cams, size=(33, 41), mode='bilinear',
                                                align_corners=True)
    out = pool(cams, upsampled)
    assert torch.allclose(out[..., 0], upsampled.mean((2, 3)))
    assert not torch.allclose(out[..., 0], cams.mean((2, 3)), atol=1e-3)
    flat = cams.flatten(2)
    assert all(torch.isin(out[n, c, 1:], flat[n, c]).all() for n in range(2) for c in range(3))


def test_a_pooling_written_with_a_one_argument_forward_still_works():
    """Poolings written before ``forward(cams, plain_cams)`` (docs/add_a_method.md's first
    form) train as before on plain CAM models."""
    from mmwsss.models.heads.pooling import GlobalAvgPooling

    @MODELS.register_module(name='max_test', force=True)
    class MaxTestPooling(GlobalAvgPooling):
        def plain(self, cams):
            return cams.amax((2, 3))

        def forward(self, cams):
            return self.plain(cams)

    head = MODELS.build(dict(type='CAMHead', in_channels=2, num_classes=2,
                             pooling=dict(type='max_test')))
    cams = torch.randn(1, 2, 5, 5)
    loss = head.loss_by_cams(cams, [_sample([2])])['loss_cls']
    expected = torch.nn.functional.multilabel_soft_margin_loss(cams.amax((2, 3)),
                                                               torch.tensor([[0., 1.]]))
    assert torch.allclose(loss, expected)


def _edge_image():
    img = torch.zeros(1, 3, 12, 12)
    img[..., :6] = torch.tensor([0.9, 0.1, 0.1]).view(1, 3, 1, 1)  # red left half
    img[..., 6:] = torch.tensor([0.1, 0.1, 0.9]).view(1, 3, 1, 1)  # blue right half
    return img


def test_feature_similarity_loss_prefers_edge_aligned_cams():
    loss = MODELS.build(dict(type='FeatureSimilarityLoss', sigma=3.0, **IDENTITY_NORM))
    img = _edge_image()
    aligned = torch.zeros(1, 1, 12, 12)
    aligned[..., :6] = 1.0  # the object is exactly the red half
    shifted = torch.zeros(1, 1, 12, 12)
    shifted[..., :3] = 1.0  # stops halfway inside the red region
    blurry = torch.zeros(1, 1, 12, 12)
    blurry[..., :9] = torch.linspace(1, 0.1, 9)  # smooth ramp across the edge
    labels = [_sample([1])]
    l_aligned, l_shifted, l_blurry = (loss(c, img, labels) for c in (aligned, shifted, blurry))
    assert l_aligned < l_shifted and l_aligned < l_blurry
    # aligned: differences only across the edge, where they are rewarded -> negative
    assert l_aligned < 0 < l_shifted
    # a class absent from the image-level label contributes nothing
    assert torch.isclose(loss(torch.cat([aligned, shifted], 1), img, labels),
                         loss(torch.cat([aligned, torch.zeros_like(shifted)], 1), img, labels))


def test_feature_similarity_loss_gradient_reaches_cams():
    loss = MODELS.build(dict(type='FeatureSimilarityLoss', **IDENTITY_NORM))
    cams = torch.rand(1, 1, 12, 12, requires_grad=True)
    loss(cams, _edge_image(), [_sample([1])]).backward()
    assert cams.grad.abs().sum() > 0


def test_seg2bmap_and_boundary_fscore_by_hand():
    mask = np.zeros((6, 6), bool)
    mask[1:4, 1:4] = True
    b = seg2bmap(mask)
    # DAVIS convention: a pixel is boundary when it differs from its E, S or SE neighbour,
    # so the top/left edge of the square is traced just outside it, bottom/right just inside
    expected = np.zeros((6, 6), bool)
    expected[0, 0:4] = expected[3, 0:4] = expected[0:4, 0] = expected[0:4, 3] = True
    assert np.array_equal(b, expected)
    gt = np.zeros((40, 40), np.uint8)
    gt[10:30, 10:30] = 1
    perfect = boundary_fscore(boundary_counts(gt, gt, 2))
    assert perfect['mBF'] == pytest.approx(100.0)
    far = np.zeros_like(gt)
    far[2:12, 25:38] = 1  # overlaps little, boundaries far apart
    assert boundary_fscore(boundary_counts(far, gt, 2))['mBF'] < 30
    near = np.zeros_like(gt)
    near[11:31, 10:30] = 1  # shifted by 1 px: within the tolerance (ceil(0.008*56.6) = 1)
    assert boundary_fscore(boundary_counts(near, gt, 2))['mBF'] == pytest.approx(100.0)
    nothing = boundary_fscore(boundary_counts(np.zeros_like(gt), gt, 2))
    assert nothing['precision'][1] == 1 and nothing['recall'][1] == 0 and nothing['mBF'] == 0


def test_boundary_tolerance_is_a_euclidean_disk_as_davis():
    from mmwsss.evaluation.boundary import _disk
    # skimage.morphology.disk(r): every offset with dy² + dx² <= r² (81 pixels for r = 5)
    disk = _disk(5)
    offsets = {(dy, dx) for dy in range(-5, 6) for dx in range(-5, 6) if dy * dy + dx * dx <= 25}
    assert {(dy - 5, dx - 5) for dy, dx in zip(*np.nonzero(disk))} == offsets
    assert len(offsets) == 81
    # at VOC size the tolerance is 5 px: a boundary 5.4 px away (2, 5) is not matched
    gt = np.zeros((375, 500), np.uint8)
    gt[100:200, 100:300] = 1
    for (dy, dx), matched in (((3, 4), 100.0), ((2, 5), None)):
        moved = np.roll(np.roll(gt, dy, 0), dx, 1)
        bf = boundary_fscore(boundary_counts(moved, gt, 2))['mBF']
        assert bf == pytest.approx(100.0) if matched else bf < 100.0


@pytest.mark.parametrize('name', ['hfpl-cam_r18-w16_1xb16-1000it_synthetic-96x96.py',
                                  'hfpl-seam_r18-w16_1xb16-1000it_synthetic-96x96.py'])
def test_hfpl_switches_on_by_config_alone(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/hfpl', name))
    model = MODELS.build(cfg.model).train()
    x = torch.rand(2, 3, 48, 48)
    samples = [_sample([1, 3]), _sample([2])]
    losses = model.loss(x, samples)
    assert {'loss_cls', 'loss_fs'} <= set(losses)
    assert type(model.head.pooling).__name__ == 'ImportanceSamplingPooling'
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert model.head.classifier.weight.grad.abs().sum() > 0
