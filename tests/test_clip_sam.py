"""CLIP + SAM seeds (FMA-WSSS): prompt head, losses, SAM seeding, training and seeds.

Tiny random open_clip and SAM models are built from configs; no weights are downloaded."""
import json
import math
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.structures import SegDataSample
from PIL import Image

from conftest import ROOT, as_cli, load_cfg, run_tool, tiny_overrides

CFG = osp.join(ROOT, 'configs/clip_sam/clip-sam_tiny_1xb16-1000it_synthetic-96x96.py')


@pytest.fixture(scope='module')
def sam_ckpt(tmp_path_factory):
    from mmwsss.label_generators.sam_utils import build_sam_model
    torch.manual_seed(0)
    path = str(tmp_path_factory.mktemp('sam') / 'sam_tiny.pth')
    torch.save(build_sam_model('tiny').state_dict(), path)
    return path


def _model(sam_ckpt=None):
    from mmwsss.models.builder import build_module
    cfg = load_cfg(CFG, {})
    cfg.model.sam = None if sam_ckpt is None else dict(cfg.model.sam, checkpoint=sam_ckpt)
    torch.manual_seed(0)
    return build_module(cfg.model)


def _samples(labels):
    out = []
    for lab in labels:
        ds = SegDataSample()
        ds.gt_img_labels = torch.tensor(lab, dtype=torch.long)
        out.append(ds)
    return out


def test_only_prompts_learn(sam_ckpt):
    model = _model(sam_ckpt)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'head.cls_ctx', 'head.seg_ctx'}
    assert model.head.cls_ctx.shape == (4, 32) and model.head.seg_ctx.shape == (5, 4, 32)
    assert not any(k.startswith('_sam') or 'image_encoder' in k for k in model.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    x = torch.randn(2, 3, 96, 96)
    ds = _samples([[1, 3], [2]])
    # a hand-made coarse seed so that the activation loss has labelled pixels
    seeds = torch.full((2, 96, 96), 255, dtype=torch.long)
    seeds[0, :40] = 1
    seeds[0, 60:] = 0
    seeds[1, :, :50] = 2
    seeds[1, :, 50:] = 0
    out = model.head(x)
    present = torch.tensor([[1., 0, 1, 0, 0], [0, 1, 0, 0, 0]])
    loss = model.loss_cls(out['cls_logits'], present) + model.loss_act(out['seg_cams'], seeds,
                                                                        present)
    loss.backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {'head.cls_ctx', 'head.seg_ctx'}
    # the full loss (with the tiny SAM) runs and is finite
    losses = model.loss(x, ds)
    assert set(losses) == {'loss_cls', 'loss_act'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_missing_clip_weights_name_the_path(tmp_path):
    from mmwsss.models.heads.clip_prompt_head import build_open_clip
    with pytest.raises(FileNotFoundError, match='no_clip.pt'):
        build_open_clip(dict(model_name='ViT-B-16'), str(tmp_path / 'no_clip.pt'))


def test_clip_weights_are_loaded(tmp_path):
    from mmwsss.models.heads.clip_prompt_head import build_open_clip
    cfg = load_cfg(CFG, {}).model.head.clip.to_dict()
    ref = build_open_clip(cfg)
    path = str(tmp_path / 'clip_tiny.pt')
    torch.save(ref.state_dict(), path)
    got = build_open_clip(cfg, path)
    assert all(torch.equal(v, ref.state_dict()[k]) for k, v in got.state_dict().items())


def test_multilabel_contrastive_loss_by_hand():
    from mmwsss.models.losses import MultiLabelContrastiveLoss
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 3.0, -1.0], [1.0, 1.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    # image 1: positives 2 and 1 against the negative 0; image 2: 3 against 0.5 and -1;
    # image 3 has no negative: not an anchor
    l1a = -math.log(math.e ** 2 / (math.e ** 2 + 1))
    l1b = -math.log(math.e / (math.e + 1))
    l2 = -math.log(math.e ** 3 / (math.e ** 3 + math.e ** 0.5 + math.e ** -1))
    pos_mean = MultiLabelContrastiveLoss()(logits, targets).item()
    assert pos_mean == pytest.approx((l1a + l1b + l2) / 3, rel=1e-5)
    sample_mean = MultiLabelContrastiveLoss(reduce='sample_mean')(logits, targets).item()
    assert sample_mean == pytest.approx(((l1a + l1b) / 2 + l2) / 2, rel=1e-5)
    scaled = MultiLabelContrastiveLoss(gamma=2.0)(logits / 2, targets).item()
    assert scaled == pytest.approx(pos_mean, rel=1e-5)
    assert MultiLabelContrastiveLoss()(logits[2:], targets[2:]).item() == 0


def test_cam_activation_loss_by_hand():
    from mmwsss.models.losses import CAMActivationLoss
    # one image, classes 1 and 2 present; 1×4 map
    cams = torch.tensor([[[[0.5, 1.0, 0.2, -0.3]], [[0.1, 0.4, 0.9, 0.3]]]])
    seeds = torch.tensor([[[1, 1, 0, 255]]])
    present = torch.tensor([[1.0, 1.0]])
    # class 1: F = px 0, 1 (peak 1.0): |1-0.5| + 0 ; B = px 2 (ignore px 3): max(0.2, 0) = 0.2
    # class 2: F empty (peak 0); B = px 0, 1, 2: 0.1 + 0.4 + 0.9
    loss = CAMActivationLoss()(cams, seeds, present)
    assert loss.item() == pytest.approx((0.5 + 0.2 + 0.1 + 0.4 + 0.9) / 8, rel=1e-5)
    # official (no ignore): px 3 is background too: class 1 adds 0, class 2 adds 0.3
    off = CAMActivationLoss(ignore_index=None)(cams, seeds, present)
    assert off.item() == pytest.approx((0.5 + 0.2 + 0.1 + 0.4 + 0.9 + 0.3) / 8, rel=1e-5)
    fgbg = CAMActivationLoss(reduce='fg-bg', eps=0)(cams, seeds, present)
    assert fgbg.item() == pytest.approx((0.5 / 2 + (0.2 + 0.1 + 0.4 + 0.9) / 4) / 2, rel=1e-5)
    # absent classes are not supervised
    only1 = CAMActivationLoss()(cams, seeds, torch.tensor([[1.0, 0.0]]))
    assert only1.item() == pytest.approx((0.5 + 0.2) / 4, rel=1e-5)
    # the peak is detached: the foreground term only pulls the CAM up
    cams.requires_grad_(True)
    CAMActivationLoss()(cams, seeds, torch.tensor([[1.0, 0.0]])).backward()
    assert cams.grad[0, 0, 0, 0] < 0 and cams.grad[0, 0, 0, 1] == 0 and cams.grad[0, 0, 0, 2] > 0


def _toy_case():
    """8×8 image, classes 1..3 (3 absent): mask A = left half, mask B = top-right quarter,
    mask C = bottom-right quarter; mask D = a small square inside A."""
    cams = torch.zeros(3, 8, 8)
    cams[0, :, :4] = 0.8          # class 1 on A
    cams[1, :4, 4:] = 0.6         # class 2 on B
    cams[1, 4:, 4:] = 0.1         # class 2 weakly on C
    cams[2, 4:, 4:] = 1.0         # class 3 (absent) strongly on C
    masks = torch.zeros(4, 8, 8, dtype=torch.bool)
    masks[0, :, :4] = True
    masks[1, :4, 4:] = True
    masks[2, 4:, 4:] = True
    masks[3, 2:4, 0:2] = True
    return masks, cams


def test_sam_seeding_follows_the_official_gather_norm_bg_argmax():
    from mmwsss.models.seeding import SAMSeeding
    masks, cams = _toy_case()
    present = torch.tensor([1.0, 1.0, 0.0])
    seed = SAMSeeding('fine')(masks, cams, present)
    # mask means: class 1 = (0.8, 0, 0, 0.8), class 2 = (0, 0.6, 0.1, 0); normalised over the
    # masks: class 1 = (1, 0, 0, 1), class 2 = (0, 1, 1/6, 0); background (1 - max)^3:
    # (0, 0, (5/6)^3 = 0.58, 0) → A, D: class 1; B: class 2; C: background (0.58 > 1/6)
    assert (seed[:, :4] == 1).all() and (seed[:4, 4:] == 2).all() and (seed[4:, 4:] == 0).all()
    # a constant background score of 0.1: C's class-2 score 1/6 beats it
    seed_t = SAMSeeding('fine', dict(method='thresh', thresh=0.1))(masks, cams, present)
    assert (seed_t[4:, 4:] == 2).all()
    # never a class absent from the image-level label (class 3 has the strongest CAM on C)
    for s in (seed, seed_t):
        assert not (s == 3).any()
    # overlaps: the higher confidence wins, then the smaller mask
    cams2 = cams.clone()
    cams2[1, 2:4, 0:2] = 5.0      # class 2 dominates inside D
    seed2 = SAMSeeding('fine')(masks, cams2, present)
    assert (seed2[2:4, 0:2] == 2).all() and (seed2[4:6, 0:2] == 1).all()
    # pixels of no mask: background (official default) or ignore
    assert (SAMSeeding('coarse', uncovered=255)(masks[:1], cams, present)[:, 4:] == 255).all()
    assert (SAMSeeding('coarse')(masks[:0], cams, present) == 0).all()
    with pytest.raises(ValueError):
        SAMSeeding('medium')


def test_coarse_seeds_come_from_classification_prompts_fine_from_segmentation(sam_ckpt):
    """Coarse seeds (training target) use the classification-prompt CAMs; fine seeds (the
    pseudo-labels) the segmentation-prompt CAMs."""
    model = _model(sam_ckpt)
    model.eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        out = model.head(x)
        present = torch.tensor([[1.0, 1.0, 0, 0, 0]])
        masks = [torch.zeros(2, 96, 96, dtype=torch.bool)]
        masks[0][0, :, :48] = True
        masks[0][1, :, 48:] = True
        model.sam_masks = lambda inputs: masks
        coarse = model.coarse_seeds(x, out['cls_cams'], present)
        up = torch.nn.functional.interpolate
        ref = model.seeding(masks[0], up(out['cls_cams'], size=(96, 96), mode='bilinear')[0]
                            .clamp(min=0), present[0])
        assert torch.equal(coarse[0], ref)
        # swapping the classification prompts for the segmentation ones changes the CAMs
        # the coarse seed is built from; the model's predict uses the segmentation prompts
        pred = model.predict(x, _samples([[1, 2]]))[0].pred_cam.data
        seg = up(out['seg_cams'], size=(96, 96), mode='bilinear')[0].clamp(min=0)
        seg = seg / (seg.flatten(1).amax(1)[:, None, None] + 1e-5)
        assert torch.allclose(pred[:2], seg[:2], atol=1e-5) and (pred[2:] == 0).all()


def test_everything_masks_from_a_point_grid(sam_ckpt):
    from mmwsss.label_generators.sam_utils import (SamBoxPredictor, build_sam, point_grid,
                                                   predict_everything)
    grid = point_grid(10, 20, 2)
    assert torch.allclose(grid, torch.tensor([[5., 2.5], [15., 2.5], [5., 7.5], [15., 7.5]]))
    pred = SamBoxPredictor(build_sam('tiny', sam_ckpt), precision='fp32', decoder_batch_size=5)
    imgs = [torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8),
            torch.randint(0, 255, (3, 64, 32), dtype=torch.uint8)]
    out = predict_everything(pred, imgs, points_per_side=3, pred_iou_thresh=-1e9)
    assert [tuple(m.shape[1:]) for m in out] == [(40, 50), (64, 32)]
    assert all(m.dtype == torch.bool and len(m) <= 9 for m in out)
    assert predict_everything(pred, imgs, points_per_side=3, pred_iou_thresh=1e9)[0].shape[0] == 0


def test_train_and_write_seeds(tiny_voc, sam_ckpt, tmp_path):
    work = str(tmp_path / 'w')
    opts = tiny_overrides(tiny_voc, iters=2)
    opts.update({'model.sam.checkpoint': sam_ckpt, 'label_generator.sam_checkpoint': sam_ckpt})
    proc = run_tool('tools/train.py', CFG, '--work-dir', work, *as_cli(opts))
    assert 'loss_act' in proc.stdout + proc.stderr
    ckpt = osp.join(work, 'iter_2.pth')
    state = torch.load(ckpt, weights_only=False)['state_dict']
    assert 'head.seg_ctx' in state and not any('image_encoder' in k for k in state)
    out = str(tmp_path / 'seeds')
    run_tool('tools/make_pseudo_labels.py', CFG, ckpt, '--out', out, '--num-workers', '0',
             *as_cli(opts))
    report = json.load(open(osp.join(out, 'report.json')))
    pngs = sorted(f for f in os.listdir(out) if f.endswith('.png'))
    assert report['failed'] == 0 and len(pngs) == report['written'] > 0
    for f in pngs:  # seeds never hold a class absent from the image-level label
        seed = np.array(Image.open(osp.join(out, f)))
        gt = np.array(Image.open(osp.join(tiny_voc, 'SegmentationClassAug', f)))
        present = set(np.unique(gt).tolist()) - {255}
        assert set(np.unique(seed).tolist()) <= present | {0, 255}
