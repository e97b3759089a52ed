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
    from mmwsss.models.sam import build_sam_model
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
    # shared classification context; class-specific segmentation context for the 5 classes
    # and the 3 (empty-named) background prompts
    assert model.head.cls_ctx.shape == (4, 32) and model.head.seg_ctx.shape == (8, 4, 32)
    assert not any(k.startswith('_sam') or 'image_encoder' in k for k in model.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    x = torch.randn(2, 3, 96, 96)
    ds = _samples([[1, 3], [2]])
    # a hand-made coarse seed so that the activation loss has labelled pixels
    seeds = torch.full((2, 96, 96), 255, dtype=torch.long)
    seeds[0, :40] = 1
    seeds[0, 60:] = 0
    seeds[1, :, :50] = 2
    seeds[1, :, 50:] = 0
    present = torch.tensor([[1., 0, 1, 0, 0], [0, 1, 0, 0, 0]])
    out = model.head(x, present)
    # the CAM loss alone reaches the segmentation prompts through the Grad-CAM (second order)
    model.loss_act(out['seg_cams'], seeds, present).backward(retain_graph=True)
    assert model.head.seg_ctx.grad.abs().sum() > 0 and model.head.cls_ctx.grad is None
    model.loss_cls(out['cls_logits'], present).backward()
    assert model.head.cls_ctx.grad.abs().sum() > 0
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {'head.cls_ctx', 'head.seg_ctx'}
    # the full joint loss (tiny SAM, CAA, coarse SAMS) runs and is finite
    losses = model.loss(x, ds)
    assert set(losses) == {'loss_cls', 'loss_act'}
    assert all(torch.isfinite(v) for v in losses.values())


def test_grad_cam_by_hand():
    """Linear toy: logits = s * mean_patches(act) @ t.T, so d p_c / d act[l] = s / hw *
    p_c (t_c - sum_g p_g t_g) on every patch l, and cam[l] = act[l] . that."""
    from mmwsss.models.heads.clip_prompt_head import grad_cam
    e = torch.eye(3)
    act = torch.stack([torch.zeros(3), e[0], e[1]])[None].clone().requires_grad_(True)
    s = 2.0

    def logits_of(text):
        return s * act[:, 1:].mean(1) @ text.t()

    present = torch.tensor([[1.0, 0.0]])  # class 0 present, class 1 (e[2]) absent
    # no background prompt: a single present class has softmax 1 → zero Grad-CAM
    cam = grad_cam(act, logits_of(torch.stack([e[0], e[2]])), present, hw=(1, 2))
    assert torch.allclose(cam, torch.zeros_like(cam))
    # a background prompt like patch 1 (e[1]): patch 0 (the class) up, patch 1 down
    text = torch.stack([e[0], e[2], e[1]])
    cam = grad_cam(act, logits_of(text), present, hw=(1, 2))
    p = torch.softmax(torch.tensor([s / 2, s / 2]), 0)  # class 0 and the background; 1 masked
    w = s / 2 * p[0] * (e[0] - (p[0] * e[0] + p[1] * e[1]))
    assert torch.allclose(cam[0, 0, 0], torch.stack([e[0] @ w, e[1] @ w]), atol=1e-6)
    assert cam[0, 0, 0, 0] > 0 > cam[0, 0, 0, 1] and (cam[0, 1] == 0).all()
    # 'all': the absent class takes part in the softmax and changes the weights
    cam_all = grad_cam(act, logits_of(text), present, hw=(1, 2), softmax_over='all')
    assert not torch.allclose(cam_all[0, 0], cam[0, 0])


def test_grad_cam_of_the_head_matches_per_image_gradients():
    """The batched Grad-CAM of CLIPPromptHead equals one gradient per (image, class)."""
    from mmwsss.models.heads.clip_prompt_head import masked_softmax
    model = _model()
    head = model.head.eval()
    x = torch.randn(2, 3, 64, 80)
    present = torch.tensor([[1., 0, 1, 1, 0], [0, 1, 0, 0, 0]])
    cams = head(x, present)['seg_cams']
    assert cams.shape == (2, 5, 4, 5) and (cams[present == 0] == 0).all()
    text = head.text_features('seg')
    for n, c in present.nonzero().tolist():
        img = head.encode_image(x[n:n + 1])
        with torch.enable_grad():
            logits = head.logit_scale * img['feat'] @ text.t()
            prob = masked_softmax(logits, present[n:n + 1], 5)[0, c]
            g = torch.autograd.grad(prob, img['act'])[0][0, 1:]
        ref = (img['act'][0, 1:].detach() * g.mean(0)).sum(-1).reshape(4, 5)
        assert torch.allclose(cams[n, c], ref, atol=1e-6, rtol=1e-4)
        assert ref.abs().sum() > 0
    # background prompts matter: without them image 2 (one class) has a zero CAM
    head.bg_names['seg'] = []
    head.tokens_seg = head.tokens_seg[:5]
    head.name_lens['seg'] = head.name_lens['seg'][:5]
    head.seg_ctx = torch.nn.Parameter(head.seg_ctx.data[:5])
    assert (head(x, present)['seg_cams'][1] == 0).all()


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
    cut = tmp_path / 'clip_cut.pt'
    cut.write_bytes(open(path, 'rb').read()[:500])  # a truncated download
    with pytest.raises(ValueError, match='clip_cut.pt is neither a PyTorch checkpoint'):
        build_open_clip(cfg, str(cut))


def test_class_names_longer_than_the_prompt_room_are_named():
    from mmwsss.registry import MODELS
    head_cfg = load_cfg(CFG, {}).model.head.to_dict()
    room = head_cfg['context_length'] - head_cfg['n_ctx'] - 3
    long_name = ' '.join(['cat'] * (room + 1))  # one token per word
    head_cfg['class_names'] = ['dog', long_name]
    with pytest.raises(ValueError, match=rf"'{long_name}' \({room + 1} tokens\)"):
        MODELS.build(head_cfg)
    head_cfg['class_names'] = ['dog', ' '.join(['cat'] * room)]  # fits exactly
    MODELS.build(head_cfg)


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
    # 'all' (official): divided by the labelled pixels of both maps, 3 + 3
    loss = CAMActivationLoss()(cams, seeds, present)
    assert loss.item() == pytest.approx((0.5 + 0.2 + 0.1 + 0.4 + 0.9) / 6, rel=1e-5)
    # nothing ignored: px 3 is background too: class 1 adds 0, class 2 adds 0.3, 8 pixels
    off = CAMActivationLoss(ignore_index=None)(cams, seeds, present)
    assert off.item() == pytest.approx((0.5 + 0.2 + 0.1 + 0.4 + 0.9 + 0.3) / 8, rel=1e-5)
    fgbg = CAMActivationLoss(reduce='fg-bg', eps=0)(cams, seeds, present)
    assert fgbg.item() == pytest.approx((0.5 / 2 + (0.2 + 0.1 + 0.4 + 0.9) / 4) / 2, rel=1e-5)
    # absent classes are not supervised
    only1 = CAMActivationLoss()(cams, seeds, torch.tensor([[1.0, 0.0]]))
    assert only1.item() == pytest.approx((0.5 + 0.2) / 3, rel=1e-5)
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
    cams[0, 0, 0] = -6.4  # one negative pixel in A: ReLU first (norm_first) ignores it
    present = torch.tensor([1.0, 1.0, 0.0])
    fine, coarse = SAMSeeding('fine'), SAMSeeding('coarse')
    assert fine.bg_method['pow'] == 0.7 and coarse.bg_method['pow'] == 0.6 and fine.norm_first
    seed = fine(masks, cams, present)
    # ReLU'd mask means: class 1 = (0.775, 0, 0, 0.8), class 2 = (0, 0.6, 0.1, 0); min-max
    # over the masks: class 1 = (0.96875, 0, 0, 1), class 2 = (0, 1, 1/6, 0); background
    # (1 - max)^0.7 = (0.0877, 0, 0.880, 0) → A, D: class 1; B: class 2; C: background
    assert (seed[:, :4] == 1).all() and (seed[:4, 4:] == 2).all() and (seed[4:, 4:] == 0).all()
    # mean first (norm_first=False): A's mean drops to 0.675 but is still class 1
    assert (SAMSeeding('fine', norm_first=False)(masks, cams, present)[:, :4] == 1).all()
    # min-max, not max-only: raise every class-2 mask mean by 0.5 → C's normalised class-2
    # score stays 1/6 (max-only would give 0.6 / 1.1 = 0.55 and beat the background 0.58^.7)
    cams_b = cams.clone()
    cams_b[1] += 0.5
    assert (fine(masks, cams_b, present)[4:, 4:] == 0).all()
    # a constant background score of 0.1: C's class-2 score 1/6 beats it
    seed_t = SAMSeeding('fine', dict(method='thresh', thresh=0.1))(masks, cams, present)
    assert (seed_t[4:, 4:] == 2).all()
    # never a class absent from the image-level label (class 3 has the strongest CAM on C)
    for s in (seed, seed_t):
        assert not (s == 3).any()
    # overlaps: the higher confidence wins, then the smaller mask
    cams2 = cams.clone()
    cams2[1, 2:4, 0:2] = 5.0      # class 2 dominates inside D
    seed2 = fine(masks, cams2, present)
    assert (seed2[2:4, 0:2] == 2).all() and (seed2[4:6, 0:2] == 1).all()
    # with SAM levels the official ('level_bigger', 'conf_bigger'): A (level 2) beats D
    seed3 = fine(masks, cams2, present, levels=torch.tensor([2, 1, 1, 0]))
    assert (seed3[:, :4] == 1).all()
    # pixels of no mask: background (official default) or ignore
    assert (SAMSeeding('coarse', uncovered=255)(masks[:1], cams, present)[:, 4:] == 255).all()
    assert (SAMSeeding('coarse')(masks[:0], cams, present) == 0).all()
    # no class in the image-level label: every mask is background, uncovered pixels stay as set
    none = torch.zeros(3)
    assert (SAMSeeding('fine')(masks, cams, none) == 0).all()
    seed_none = SAMSeeding('coarse', uncovered=255)(masks[:1], cams, none)
    assert (seed_none[:, :4] == 0).all() and (seed_none[:, 4:] == 255).all()
    with pytest.raises(ValueError):
        SAMSeeding('medium')


def test_class_aware_attention_refinement_by_hand():
    from mmwsss.models.seeding.sam_seeding import (attention_affinity, cam_to_score,
                                                   refine_cams, score_box_mask)
    # attention of 2 layers over [cls, p0, p1, p2]; only the last layer is used
    att = torch.rand(2, 4, 4)
    att[1, 1:, 1:] = torch.tensor([[2., 1, 1], [1, 2, 1], [1, 1, 2]])
    aff = attention_affinity(att, last_n_layers=1, sinkhorn_iters=1)
    ref = att[1, 1:, 1:] / att[1, 1:, 1:].sum(0, keepdim=True)
    ref = ref / ref.sum(1, keepdim=True)
    assert torch.allclose(aff, (ref + ref.t()) / 2)
    # boxes of score > 0.4 * max on a 4x6 map, right / bottom end clipped to w-1 / h-1
    score = torch.zeros(4, 6)
    score[1, 1] = 1.0
    score[0:2, 4:6] = 0.9
    box = score_box_mask(score, 0.4)
    assert box[1, 1] == 1 and box[0, 4] == 1 and box[0, 5] == 0 and box.sum() == 3
    # refinement: (aff^2 * box[None]) @ x, x the score or the CAM; 3x3 map, uniform affinity
    cams = torch.zeros(1, 3, 3)
    cams[0, 1, 1], cams[0, 0, 0], cams[0, 2, 2] = 3.0, -1.0, 1.0
    assert torch.allclose(cam_to_score(cams)[0, 2, 2], torch.tensor(1 / 3))
    full = torch.ones(9, 9) / 9  # aff^2 = aff
    # score (0.., 1 at the centre, 1/3 at a corner below the 0.4 box threshold): only the
    # centre is inside a box and propagates
    out = refine_cams(cams, full, n_iters=2, box_thresh=0.4, at='score')
    assert torch.allclose(out, torch.full((1, 3, 3), 1 / 9), atol=1e-6)
    out_cam = refine_cams(cams, full, n_iters=2, box_thresh=0.4, at='cam')
    assert torch.allclose(out_cam, torch.full((1, 3, 3), 3 / 9), atol=1e-6)
    # a lower threshold takes the corner in, but its box touches the border and is clipped
    # away (the official scoremap2bbox quirk): nothing changes
    out_low = refine_cams(cams, full, n_iters=2, box_thresh=0.2, at='score')
    assert torch.allclose(out_low, out)


def test_coarse_seeds_come_from_classification_prompts_fine_from_segmentation(sam_ckpt):
    """Coarse seeds (training target) use the refined classification-prompt CAMs (CAA at the
    score, pow 0.6); fine seeds and ``predict`` the segmentation-prompt CAMs."""
    from mmwsss.models.seeding.sam_seeding import DEFAULT_CAA, cam_to_score
    model = _model(sam_ckpt)
    model.eval()
    assert model.caa == DEFAULT_CAA['coarse'] and model.seeding.bg_method['pow'] == 0.6
    x = torch.randn(1, 3, 96, 96)
    present = torch.tensor([[1.0, 1.0, 0, 0, 0]])
    out = model.head(x, present, cam_tasks=('cls', 'seg'), need_attn=True)
    assert len(out['attn']) == 2 and out['attn'][0].shape == (1, 37, 37)
    cls_ref = model.refine(out, 'cls', present, model.caa)
    seg_ref = model.refine(out, 'seg', present, DEFAULT_CAA['fine'])
    assert not torch.allclose(cls_ref[0, :2], out['cls_cams'][0, :2])  # refinement acts
    assert not torch.allclose(cls_ref[0, :2], seg_ref[0, :2])
    assert (cls_ref[0, 2:] == 0).all()
    masks = [torch.zeros(2, 96, 96, dtype=torch.bool)]
    masks[0][0, :, :48] = True
    masks[0][1, :, 48:] = True
    masks[0] = torch.cat([masks[0], masks[0][:1]])  # a level-2 duplicate of mask 0
    levels = [torch.tensor([1, 1, 2])]
    model.sam_masks = lambda inputs: (masks, levels)
    coarse = model.coarse_seeds(x, cls_ref, present)
    up = torch.nn.functional.interpolate
    ref = model.seeding(masks[0], up(cls_ref, size=(96, 96), mode='bilinear')[0], present[0],
                        levels=levels[0])
    assert torch.equal(coarse[0], ref) and set(coarse.unique().tolist()) <= {0, 1, 2}
    # predict: raw segmentation-prompt Grad-CAMs (no CAA), ReLU + min-max, absent classes 0
    pred = model.predict(x, _samples([[1, 2]]))[0].pred_cam.data
    seg = cam_to_score(up(out['seg_cams'], size=(96, 96), mode='bilinear'))[0]
    assert torch.allclose(pred[:2], seg[:2], atol=1e-5) and (pred[2:] == 0).all()


def test_two_stage_training_as_the_official_code(sam_ckpt):
    """stage 'cls': only the classification loss (segmentation prompts get no gradient);
    stage 'seg': only the CAM activation loss against the seeds in ``gt_sem_seg``, present
    classes from the seed; the classification prompts get no gradient."""
    from mmengine.structures import PixelData
    model = _model()
    model.train()
    x = torch.randn(2, 3, 96, 96)
    model.train_cfg['stage'] = 'cls'
    losses = model.loss(x, _samples([[1, 3], [2]]))
    assert set(losses) == {'loss_cls'}
    losses['loss_cls'].backward()
    assert model.head.cls_ctx.grad.abs().sum() > 0 and model.head.seg_ctx.grad is None
    model.head.cls_ctx.grad = None
    model.train_cfg['stage'] = 'seg'
    ds = _samples([[1, 3], [2]])
    for d, lab in zip(ds, (1, 2)):
        seed = torch.zeros(1, 96, 96, dtype=torch.long)
        seed[0, :48] = lab
        seed[0, 90:] = 255
        d.gt_sem_seg = PixelData(data=seed)
    seen = {}
    model.loss_act.register_forward_pre_hook(lambda m, args: seen.update(present=args[2]))
    losses = model.loss(x, ds)
    assert set(losses) == {'loss_act'} and losses['loss_act'] > 0
    # image 1 is labelled {1, 3} but its seed only holds class 1 (official ol_cls_lb)
    assert seen['present'].tolist() == [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]
    losses['loss_act'].backward()
    assert model.head.seg_ctx.grad.abs().sum() > 0 and model.head.cls_ctx.grad is None


def test_bf16_training_step_agrees_with_fp32_and_sam_set_to_fp32_stays_fp32(sam_ckpt):
    """The GPU configs train in bf16 (the official code: fp16 autocast). On the tiny model,
    each stage's loss and prompt gradients under bf16 autocast (the Grad-CAM's double
    backward included) stay within 3% of fp32 (8% for the joint stage, whose seeds come from
    the bf16 CAMs; 4.2% measured); the joint stage's seeding (CAA, SAM) runs in fp32 inside the bf16 step,
    and a SAM set to fp32 encodes in fp32 there."""
    from mmengine.structures import PixelData

    from mmwsss.models.sam import BatchedSamPredictor, build_sam
    model = _model(sam_ckpt)
    model.train()
    assert model.caa  # the joint stage refines CAMs by attention before seeding
    x = torch.randn(2, 3, 96, 96)
    for stage, trained, tol in (('cls', 'head.cls_ctx', 0.03), ('seg', 'head.seg_ctx', 0.03),
                                ('joint', 'head.seg_ctx', 0.08)):
        model.train_cfg['stage'] = stage
        runs = []
        for bf16 in (False, True):
            ds = _samples([[1, 3], [2]])
            for d, lab in zip(ds, (1, 2)):
                seed = torch.zeros(1, 96, 96, dtype=torch.long)
                seed[0, :48] = lab
                d.gt_sem_seg = PixelData(data=seed)
            model.zero_grad(set_to_none=True)
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                loss = sum(model.loss(x, ds).values())
            loss.backward()
            runs.append((loss.detach(), dict(model.named_parameters())[trained].grad.clone()))
        (loss32, grad32), (loss16, grad16) = runs
        assert abs(loss16.float() - loss32) <= tol * loss32, stage
        assert grad16.dtype == torch.float32  # the prompts stay fp32 parameters
        assert (grad16 - grad32).norm() <= tol * grad32.norm(), stage
    sam = build_sam('tiny', sam_ckpt)
    seen = []
    sam.image_encoder.patch_embed.proj.register_forward_hook(
        lambda m, args, out: seen.append(out.dtype))
    imgs = [torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        BatchedSamPredictor(sam, precision='fp32').encode(imgs)
        BatchedSamPredictor(sam, precision='bf16').encode(imgs)
    assert seen == [torch.float32, torch.bfloat16]


def test_everything_masks_from_a_point_grid(sam_ckpt):
    from mmwsss.models.sam import (BatchedSamPredictor, build_sam, point_grid,
                                   predict_everything)
    grid = point_grid(10, 20, 2)
    assert torch.allclose(grid, torch.tensor([[5., 2.5], [15., 2.5], [5., 7.5], [15., 7.5]]))
    pred = BatchedSamPredictor(build_sam('tiny', sam_ckpt), precision='fp32', decoder_batch_size=5)
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


# ------------------------------------------------------------ official SamAuto mask generator
def _sam_auto(sam_ckpt, pattern='l2_nmsf_s1_rsw3', **kw):
    from mmwsss.models.sam import (BatchedSamPredictor, SamAutoMaskGenerator,
                                   build_sam)
    pred = BatchedSamPredictor(build_sam('tiny', sam_ckpt), precision='fp32')
    return SamAutoMaskGenerator(pred, pattern, **kw)


def _square(h, w, y0, y1, x0, x1, inside=10.0, outside=-10.0):
    out = torch.full((h, w), outside)
    out[y0:y1, x0:x1] = inside
    return out


def test_sam_auto_thresholds_on_hand_made_logits(sam_ckpt):
    """Official SamAuto._process_batch: predicted IoU + level offset (0, 0, .1) > .86,
    stability (cut-offs 0 ± 1) >= .92, levels kept; the whole-object offset decides."""
    gen = _sam_auto(sam_ckpt)
    assert gen.pred_iou_thresh == 0.86 and gen.stability_score_thresh == 0.92
    assert gen.crop_n_layers == 1 and gen.min_mask_region_area == 100
    h = w = 60
    sharp = _square(h, w, 10, 30, 10, 30)
    # 20x20 core at +10; a band at 0.5 (inside the mask, between the cut-offs -1 and +1):
    # one extra row → stability 400 / 420 = 0.952 (kept), two rows → 400 / 440 = 0.909
    soft1, soft2 = sharp.clone(), sharp.clone()
    soft1[30:31, 10:30] = 0.5
    soft2[30:32, 10:30] = 0.5
    # point 0: IoUs (.85, .87, .80): level 0 fails, level 1 passes, level 2 passes only with
    # its +0.1 offset; point 1: IoU .95 everywhere, stabilities .909 / .952 / 1
    logits = torch.stack([sharp, sharp, sharp, soft2, soft1, sharp])
    ious = torch.tensor([0.85, 0.87, 0.80, 0.95, 0.95, 0.95])
    kept = gen.filter_masks(logits, ious, [0, 0, w, h], (h, w))
    assert kept['levels'].tolist() == [1, 2, 1, 2]
    assert torch.allclose(kept['iou_preds'], torch.tensor([0.87, 0.80, 0.95, 0.95]))
    assert torch.allclose(kept['stability_scores'], torch.tensor([1, 1, 400 / 420, 1]))
    assert kept['boxes'][2].tolist() == [10, 10, 29, 30]  # the band is part of the mask
    # without the offset (segment-anything's SamAutomaticMaskGenerator) level 2 of point 0
    # goes; a stricter stability threshold drops the soft mask
    plain = _sam_auto(sam_ckpt, 'official_heavy')
    assert plain.filter_masks(logits, ious, [0, 0, w, h], (h, w))['levels'].tolist() == [1, 1, 2]
    strict = _sam_auto(sam_ckpt, stability_score_thresh=0.96)
    assert strict.filter_masks(logits, ious, [0, 0, w, h], (h, w))['levels'].tolist() == [1, 2, 2]
    # a threshold of 0 switches the filter off (as the official `if thresh > 0`)
    off = _sam_auto(sam_ckpt, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    assert len(off.filter_masks(logits, ious, [0, 0, w, h], (h, w))['masks']) == 6
    # in a crop, a mask touching a crop edge that is not an image edge is dropped
    crop = gen.filter_masks(torch.stack([_square(40, 40, 5, 40, 5, 20),
                                         _square(40, 40, 5, 20, 5, 20)]),
                            torch.tensor([0.95, 0.95]), [0, 0, 40, 40], (100, 100),
                            levels=torch.tensor([1, 1]))
    assert crop['boxes'].tolist() == [[5, 5, 19, 19]]


def test_sam_auto_whole_object_offset_wins_the_nms(sam_ckpt):
    """Official SamAuto._process_crop: box NMS ranked by IoU + (0, 0, 1): the whole-object
    mask (level 2) beats a nearly identical part mask with a higher predicted IoU."""
    h = w = 60
    logits = torch.stack([_square(h, w, 10, 30, 10, 30), _square(h, w, 10, 31, 10, 31),
                          _square(h, w, 40, 50, 40, 50)])
    ious = torch.tensor([0.97, 0.90, 0.88])
    levels = torch.tensor([1, 2, 0])
    winners = {}
    for pattern in ('l2_nmsf_s1_rsw3', 'official_heavy'):
        gen = _sam_auto(sam_ckpt, pattern)
        data = gen.filter_masks(logits, ious, [0, 0, w, h], (h, w), levels=levels)
        out = gen.crop_nms(data, [0, 0, w, h], (h, w))
        winners[pattern] = out['levels'].tolist()
        assert out['masks'].shape == (2, h, w) and out['crop_boxes'].tolist() == [[0, 0, w, h]] * 2
    assert winners == {'l2_nmsf_s1_rsw3': [2, 0], 'official_heavy': [1, 0]}
    # masks of a crop go back to the image frame
    gen = _sam_auto(sam_ckpt)
    data = gen.filter_masks(_square(90, 90, 30, 40, 30, 40)[None], ious[2:],
                            [30, 30, 120, 120], (120, 120), levels=levels[2:])
    out = gen.crop_nms(data, [30, 30, 120, 120], (120, 120))
    assert out['boxes'].tolist() == [[60, 60, 69, 69]] and out['masks'][0, 60:70, 60:70].all()
    assert out['masks'].shape == (1, 120, 120) and out['masks'].sum() == 100


def test_sam_auto_rock_sand_water_drops_covered_parts():
    """Official SamAuto.rock_sand_water: from whole objects down, a mask is kept only if at
    most 30 % of it lies in one kept larger-level mask."""
    from mmwsss.models.sam import rock_sand_water
    m = torch.zeros(6, 20, 20, dtype=torch.bool)
    m[0, :, :10] = True           # W, level 2: left half
    m[1, 2:6, 2:6] = True         # P1, level 1: inside W → dropped
    m[2, 2:12, 12:20] = True      # P2, level 1: right half → kept
    m[3, 14:19, 8:18] = True      # S1, level 0: 20 % in W → kept
    m[4, 4:8, 14:18] = True       # S2, level 0: inside P2 (a kept part) → dropped
    m[5, 15:19, 6:11] = True      # S3, level 0: 80 % in W → dropped
    levels = torch.tensor([2, 1, 1, 0, 0, 0])
    assert rock_sand_water(m, levels, 0.3).tolist() == [0, 2, 3]
    assert rock_sand_water(m, levels, 0.3, chunk_size=1).tolist() == [0, 2, 3]
    assert rock_sand_water(m, levels, 0.85).tolist() == [0, 2, 3, 5]
    # no whole object: the parts start the kept set (all kept, even one inside another);
    # S3 is no longer covered, S2 still is
    m[1, 2:6, 13:17] = True       # P1 now mostly inside P2
    assert rock_sand_water(m[1:], levels[1:], 0.3).tolist() == [0, 1, 2, 4]


def test_sam_auto_small_region_clean_up(sam_ckpt):
    """SamAutomaticMaskGenerator.postprocess_small_regions: holes filled and islands
    removed below 100 px, then NMS preferring the masks that needed no change."""
    gen = _sam_auto(sam_ckpt)
    m = torch.zeros(3, 40, 40, dtype=torch.bool)
    m[0, 5:25, 5:25] = True
    m[0, 10:12, 10:12] = False    # a 4 px hole
    m[0, 30, 30] = True           # a 1 px island
    m[1, 5:25, 5:25] = True       # the clean version of mask 0
    m[2, 28:38, 28:38] = True
    m[2, 30:32, 30:32] = False
    boxes = torch.tensor([[5, 5, 30, 30], [5, 5, 24, 24], [28, 28, 37, 37]])
    data = dict(masks=m, boxes=boxes, iou_preds=torch.tensor([0.99, 0.9, 0.9]),
                levels=torch.tensor([2, 1, 0]), crop_boxes=torch.zeros(3, 4))
    out = gen.remove_small_regions(data)
    assert out['levels'].tolist() == [1, 0]  # unchanged mask 1 first; mask 0 a duplicate
    assert out['masks'][1].sum() == 100 and out['boxes'].tolist() == [[5, 5, 24, 24],
                                                                       [28, 28, 37, 37]]


def _structured_tiny_sam(sam_ckpt):
    """The tiny random SAM, with weights scaled so that its masks depend on the point."""
    from mmwsss.models.sam import build_sam
    sam = build_sam('tiny', sam_ckpt)
    with torch.no_grad():
        for n, p in sam.named_parameters():
            if 'output_hypernetworks' in n or 'output_upscaling' in n:
                p.mul_(5.0)
        last = sam.mask_decoder.iou_prediction_head.layers[-1]
        last.weight.mul_(5.0)
        last.bias.add_(0.5)
        for e in sam.prompt_encoder.point_embeddings:
            e.weight.mul_(10.0)
        sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.mul_(4.0)
        for blk in sam.mask_decoder.transformer.layers:
            blk.cross_attn_token_to_image.out_proj.weight.mul_(5.0)
    return sam


def test_sam_auto_matches_segment_anything_generator(sam_ckpt):
    """With the level offsets and the rock-sand-water filter off, the batched generator gives
    exactly segment-anything's SamAutomaticMaskGenerator masks (crop layer, NMS, clean-up
    included; same resize of the crops as SamPredictor)."""
    from segment_anything import SamAutomaticMaskGenerator
    from segment_anything.utils.transforms import ResizeLongestSide
    from mmwsss.models.sam import BatchedSamPredictor, SamAutoMaskGenerator
    torch.manual_seed(0)
    sam = _structured_tiny_sam(sam_ckpt)
    pred = BatchedSamPredictor(sam, precision='fp32', decoder_batch_size=7, sdpa=False)
    resize = ResizeLongestSide(sam.image_encoder.img_size)

    def pil_preprocess(images, bgr=False):  # SamPredictor.set_image's uint8 PIL resize
        x = [resize.apply_image(i.permute(1, 2, 0).to(torch.uint8).numpy()) for i in images]
        batch = torch.stack([sam.preprocess(torch.as_tensor(r).permute(2, 0, 1)[None].float())[0]
                             for r in x])
        return batch, [r.shape[:2] for r in x], [tuple(i.shape[-2:]) for i in images]

    pred.preprocess = pil_preprocess
    rng = np.random.RandomState(0)
    imgs = []
    for h, w in [(150, 200), (96, 130)]:
        img = np.zeros((h, w, 3), np.uint8)
        for _ in range(6):
            y, x = rng.randint(0, h - 20), rng.randint(0, w - 20)
            img[y:y + rng.randint(10, 60), x:x + rng.randint(10, 60)] = rng.randint(0, 255, 3)
        imgs.append(img)
    settings = dict(points_per_side=8, pred_iou_thresh=0.25, stability_score_thresh=0.7,
                    box_nms_thresh=0.99, crop_nms_thresh=0.99, crop_n_layers=1,
                    crop_n_points_downscale_factor=2, min_mask_region_area=100)
    ref_gen = SamAutomaticMaskGenerator(sam, points_per_batch=5, **settings)
    gen = SamAutoMaskGenerator(pred, 'official_heavy', **settings)
    ours = gen.generate([torch.as_tensor(i).permute(2, 0, 1) for i in imgs])
    total = 0
    for img, o in zip(imgs, ours):
        ref = ref_gen.generate(img)
        assert len(ref) == len(o['masks'])
        for r, m, s, b in zip(ref, o['masks'], o['stability_scores'], o['boxes']):
            assert np.array_equal(r['segmentation'], m.numpy())
            assert r['stability_score'] == pytest.approx(float(s))
            x, y, bw, bh = r['bbox']
            assert b.tolist() == [x, y, x + bw, y + bh]
        assert set(o['levels'].tolist()) <= {0, 1, 2}
        total += len(ref)
    assert total >= 5  # not a vacuous comparison
    # the official pattern: levels come out whole objects first (rock-sand-water order)
    rsw = SamAutoMaskGenerator(pred, 'l2_nmsf_s1_rsw3', **dict(settings, pred_iou_thresh=0.0))
    for img, o in zip(imgs, rsw.generate([torch.as_tensor(i).permute(2, 0, 1) for i in imgs])):
        lv = o['levels'].tolist()
        assert lv == sorted(lv, reverse=True) and o['masks'].shape[1:] == img.shape[:2]


def test_sam_seeding_level_order_keeps_the_mask_order_on_ties():
    """Official sort_anns(('level_bigger', 'conf_bigger')) is a stable sort: on equal level and
    confidence the later mask of the list is painted last (wins), whatever the areas."""
    from mmwsss.models.seeding import SAMSeeding
    cams = torch.zeros(2, 8, 8)
    cams[0, :, :4] = 1.0
    cams[1, :, 4:] = 1.0
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, :, :5] = True   # class 1 (conf 1), reaches column 4
    masks[1, :, 3:] = True   # class 2 (conf 1), reaches column 3
    present = torch.ones(2)
    seeding = SAMSeeding('fine')
    a = seeding(masks, cams, present, levels=torch.tensor([1, 1]))
    b = seeding(masks.flip(0), cams, present, levels=torch.tensor([1, 1]))
    assert (a[:, 3:5] == 2).all() and (b[:, 3:5] == 1).all()
    # the level still comes first
    assert (seeding(masks, cams, present, levels=torch.tensor([2, 1]))[:, 3:5] == 1).all()


def test_mask_source_option(sam_ckpt):
    """Joint coarse seeds use the official multi-level masks by default, the single-mask grid
    with sam.mask_source='grid'; the label generator likewise."""
    from mmwsss.label_generators.clip_sam import CLIPSAMLabelGenerator
    model = _model(sam_ckpt)
    assert model.sam_cfg['mask_source'] == 'auto'
    x = torch.rand(1, 3, 96, 96)
    masks, levels = model.sam_masks(x)
    assert masks[0].shape[1:] == (96, 96) and len(levels[0]) == len(masks[0])
    model.sam_cfg['mask_source'] = 'grid'
    masks, levels = model.sam_masks(x)
    assert levels == [None] and masks[0].shape[1:] == (96, 96)
    cfg = load_cfg(CFG, {})
    with pytest.raises(ValueError, match='mask_source'):
        CLIPSAMLabelGenerator(cfg.model, __file__, sam_ckpt, sam_type='tiny',
                              mask_source='everything')
    ckpt = osp.join(osp.dirname(sam_ckpt), 'prompts.pth')
    torch.save(dict(state_dict=_model().state_dict()), ckpt)
    gen = CLIPSAMLabelGenerator(cfg.model, ckpt, sam_ckpt, sam_type='tiny', device='cpu',
                                **{k: v for k, v in cfg.label_generator.items()
                                   if k in ('sam_auto', 'points_per_side')})
    assert gen.mask_generator.pattern == 'l2_nmsf_s1_rsw3' and gen.mask_generator.crop_n_layers
    img = torch.randint(0, 255, (3, 80, 96), dtype=torch.uint8)
    masks, levels = gen.sam_masks([img])
    assert masks[0].shape[1:] == (80, 96) and len(levels[0]) == len(masks[0])
    gen = CLIPSAMLabelGenerator(cfg.model, ckpt, sam_ckpt, sam_type='tiny', device='cpu',
                                mask_source='grid')
    assert gen.mask_generator is None and gen.sam_masks([img])[1] == [None]
    # a batch of two sizes (and an image with no class): one CLIP pass per size, the same
    # seeds as one image at a time
    samples, images = [], []
    for (h, w), labels in (((80, 96), [1, 2]), ((64, 64), [2]), ((80, 96), [])):
        images.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8))
        ds = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        ds.set_field(torch.tensor(labels, dtype=torch.long), 'gt_img_labels')
        samples.append(ds)
    batched = gen.generate(dict(inputs=images, data_samples=samples))
    assert [b.shape for b in batched] == [(80, 96), (64, 64), (80, 96)]
    assert (batched[2] == 0).all() and len(gen.last_cams) == 3
    for img, ds, seed in zip(images, samples, batched):
        alone = gen.generate(dict(inputs=[img], data_samples=[ds]))[0]
        assert np.array_equal(alone, seed)


def test_test_images_are_padded_to_the_patch_size_and_cams_normalised_within_them():
    """A 40×50 image is padded to 48×64 so that the 16-px patch grid covers every pixel
    (conv1 would drop the last 8 rows and 2 columns); the CAM is cropped back and min-max
    normalised inside the image, not over the padding."""
    model = _model().eval()
    ds = SegDataSample(metainfo=dict(ori_shape=(40, 50), img_shape=(40, 50)))
    ds.gt_img_labels = torch.tensor([1, 3])
    img = torch.randint(0, 255, (3, 40, 50), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=[img], data_samples=[ds]), False)
    assert data['inputs'].shape[-2:] == (48, 64)
    assert data['data_samples'][0].img_shape == (40, 50)
    out = model.predict(data['inputs'], data['data_samples'])[0]
    cam = out.pred_cam.data
    assert cam.shape[-2:] == (40, 50)
    peaks = cam.flatten(1).amax(1)
    assert torch.allclose(peaks[[0, 2]], torch.ones(2), atol=1e-5)  # present classes
    assert (cam[[1, 3]] == 0).all()  # absent classes
