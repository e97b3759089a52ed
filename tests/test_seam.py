"""SEAM parts against hand computations: PCM, ER, ECR, min loss, transform, gradients."""
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from mmwsss.models.necks import PCMNeck
from mmwsss.models.utils import keep_argmax_foreground, min_max_norm
from mmwsss.registry import MODELS

VOC_SEAM = 'configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py'
COCO_SEAM = 'configs/seam/seam_wr38_1xb8-8e_coco14-448x448.py'


def test_pcm_matches_hand_computation():
    torch.manual_seed(0)
    pcm = PCMNeck(in_channels=(3, 4), in_index=(0, 1), feat_channels=(2, 2), out_channels=5)
    feats = [torch.randn(1, 3, 3, 2), torch.randn(1, 4, 3, 2)]
    img = torch.randn(1, 3, 3, 2)  # already at feature size: resize is the identity
    cams = torch.rand(1, 4, 3, 2)
    out = pcm(cams, feats, img)
    # independent: per pixel embeddings, explicit double loop over pixel pairs
    w0, w1, w9 = (pcm.taps[0].weight[:, :, 0, 0], pcm.taps[1].weight[:, :, 0, 0],
                  pcm.f9.weight[:, :, 0, 0])
    pix = [(y, x) for y in range(3) for x in range(2)]
    emb = []
    for y, x in pix:
        v = torch.cat([img[0, :, y, x], torch.relu(w0 @ feats[0][0, :, y, x]),
                       torch.relu(w1 @ feats[1][0, :, y, x])])
        e = w9 @ v
        emb.append(e / (e.norm() + 1e-5))
    aff = torch.tensor([[max(0.0, float(emb[i] @ emb[j])) for j in range(6)] for i in range(6)])
    aff = aff / (aff.sum(0, keepdim=True) + 1e-5)  # columns sum to one
    flat = cams[0].reshape(4, 6)
    expected = (flat @ aff).reshape(1, 4, 3, 2)
    assert torch.allclose(out, expected, atol=1e-5)


def test_pcm_input_keeps_only_top_class_and_bg_is_one_minus_max():
    raw = torch.tensor([[[[2.0, 0.0]], [[1.0, 3.0]]]])  # (1, 2 classes, 1, 2)
    prepared = PCMNeck.prepare_cams(raw)
    # per-class max-norm: class1 -> [1, 0], class2 -> [1/3, 1]; top class per pixel kept
    assert torch.allclose(prepared[0, 1, 0], torch.tensor([1.0, 0.0]), atol=1e-4)
    assert torch.allclose(prepared[0, 2, 0], torch.tensor([0.0, 1.0]), atol=1e-4)
    assert torch.allclose(prepared[0, 0, 0], torch.tensor([0.0, 0.0]), atol=1e-4)


def test_er_loss_by_hand():
    er = MODELS.build(dict(type='EquivariantRegularizationLoss'))
    cam1 = torch.zeros(1, 3, 2, 2)
    cam2 = torch.zeros(1, 3, 2, 2)
    cam1[0, 0] = 5  # background channel is ignored
    cam1[0, 1, 0, 0] = 0.8
    cam2[0, 2, 1, 1] = 0.4
    assert torch.isclose(er(cam1, cam2), torch.tensor((0.8 + 0.4) / 8))


def test_ecr_loss_by_hand():
    ecr = MODELS.build(dict(type='EquivariantCrossRegularizationLoss', topk_ratio=0.5))
    cam = torch.tensor([[[[0.2, 0.9]], [[0.7, 0.1]], [[0.5, 0.3]]]])  # (1, bg+2, 1, 2)
    refined = torch.zeros_like(cam)
    # target: max_onehot(cam) zeroes fg entries below the pixel's fg max
    target = torch.tensor([[[[0.2, 0.9]], [[0.7, 0.0]], [[0.0, 0.3]]]])
    assert torch.equal(keep_argmax_foreground(cam), target)
    # |target - 0| has 6 entries; top half: 0.9, 0.7, 0.3 -> mean 0.6333; both directions
    assert torch.isclose(ecr(cam, cam, refined, refined), torch.tensor(2 * (0.9 + 0.7 + 0.3) / 3))


def test_min_loss_by_hand():
    loss = MODELS.build(dict(type='AdaptiveMinPoolingLoss'))
    fg = torch.tensor([[[[0.1, 0.5], [-0.3, 0.9]], [[0.2, 0.0], [0.0, 0.0]]]])  # (1, 2, 2, 2)
    # per-pixel max: [0.2, 0.5, 0.0, 0.9]; lowest quarter (k=1): 0.0 -> relu -> 0
    assert loss(fg) == 0
    fg[0, 0, 1, 0] = 0.05
    assert torch.isclose(loss(fg), torch.tensor(0.05))


def test_min_max_norm_matches_seam():
    x = torch.tensor([[[[1.0, 3.0], [2.0, -1.0]]]])
    # relu -> [1, 3, 2, 0]; min 0, max 3 -> relu(x - 1e-5) / (3 + 1e-5)
    expected = torch.relu(torch.tensor([1.0, 3, 2, 0]) - 1e-5) / (3 + 1e-5)
    assert torch.allclose(min_max_norm(x).flatten(), expected)


def test_rescale_round_trip_is_exact_on_linear_images():
    t = MODELS.build(dict(type='RescaleTransform', scale=0.5))
    ramp = torch.linspace(0, 1, 9).view(1, 1, 1, 9).expand(1, 2, 9, 9)
    small = t(ramp)
    assert small.shape[-2:] == (4, 4)
    assert torch.allclose(small[0, 0, 0], torch.linspace(0, 1, 4), atol=1e-6)
    back = F.interpolate(small, size=(9, 9), mode='bilinear', align_corners=True)
    assert torch.allclose(back, ramp, atol=1e-5)


def _sample(labels, shape=(32, 32)):
    ds = SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
    ds.set_field(torch.tensor(labels), 'gt_img_labels')
    return ds


def _tiny_seam(**kwargs):
    return MODELS.build(dict(
        type='EquivariantCAMClassifier',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                      out_indices=(1, 2, 3), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                      contract_dilation=True),
        head=dict(type='CAMHead', in_channels=64, num_classes=3),
        cam_neck=dict(type='PCMNeck', in_channels=(16, 32), feat_channels=(4, 8),
                      out_channels=12), **kwargs))


def _grad_sum(p):
    return 0.0 if p.grad is None else float(p.grad.abs().sum())


def test_seam_losses_and_gradient_paths():
    torch.manual_seed(0)
    model = _tiny_seam()
    losses = model.loss(torch.rand(2, 3, 32, 32), [_sample([1]), _sample([2, 3])])
    assert set(losses) >= {'loss_cls', 'loss_er', 'loss_ecr', 'loss_min'}
    backbone_w = model.backbone.layer2[0].conv1.weight
    # ECR trains PCM only: PCM reads detached features and detached CAMs
    model.zero_grad()
    losses['loss_ecr'].backward(retain_graph=True)
    assert _grad_sum(model.cam_neck.f9.weight) > 0
    assert _grad_sum(backbone_w) == 0 and _grad_sum(model.head.classifier.weight) == 0
    # ER trains the CAM path (head and backbone), never PCM
    model.zero_grad()
    losses['loss_er'].backward(retain_graph=True)
    assert _grad_sum(backbone_w) > 0 and _grad_sum(model.head.classifier.weight) > 0
    assert _grad_sum(model.cam_neck.f9.weight) == 0


def test_seam_inference_uses_pcm_refined_cams():
    model = _tiny_seam().eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        feats = model.extract_feat(x)
        raw = model.head(feats)
        refined = model.cam_neck.refine(raw, feats, x)[:, 1:]
        assert torch.allclose(model.single_scale_cams(x), refined)
        out = model.predict(x, [_sample([1, 2])])[0]
    assert out.pred_cam.data.shape == (3, 32, 32) and out.pred_cam.data[2].sum() == 0


def test_resnet38d_frozen_parts_get_no_gradient():
    from mmwsss.models.backbones import ResNet38d
    net = ResNet38d(out_indices=(1, 2, 3)).train()
    assert not net.bn7.training  # BN kept in eval mode
    outs = net(torch.rand(1, 3, 24, 24))
    assert [o.shape[1] for o in outs] == [512, 1024, 4096] and outs[0].shape[-1] == 3
    outs[-1].mean().backward()
    assert net.conv1a.weight.grad is None and net.b2_2.conv_branch2a.weight.grad is None
    assert net.bn7.weight.grad is None
    assert net.b3.conv_branch2a.weight.grad is not None


def _write_params(path, arrays, legacy=False):
    """A test writer of MXNet's NDArray-list format (V2, or the pre-magic legacy layout)."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<QQQ', 0x112, 0, len(arrays)))
        for arr in arrays.values():
            arr = np.ascontiguousarray(arr, np.float32)
            if legacy:
                f.write(struct.pack('<I', arr.ndim) + struct.pack(f'<{arr.ndim}I', *arr.shape))
            else:
                f.write(struct.pack('<Iii', 0xF993FAC9, 0, arr.ndim) +
                        struct.pack(f'<{arr.ndim}q', *arr.shape))
            f.write(struct.pack('<iii', 1, 0, 0) + arr.tobytes())
        f.write(struct.pack('<Q', len(arrays)))
        for name in arrays:
            f.write(struct.pack('<Q', len(name)) + name.encode())


def _mxnet_name(torch_key):
    """Inverse of the converter's naming, written independently for the test."""
    mod, _, param = torch_key.rpartition('.')
    if mod == 'conv1a':
        return 'arg:conv1a_weight'
    bn = {'weight': 'gamma', 'bias': 'beta', 'running_mean': 'moving_mean',
          'running_var': 'moving_var'}
    if mod == 'bn7':
        return ('aux:' if 'running' in param else 'arg:') + f'bn7_{bn[param]}'
    block, layer = mod.split('.')
    stage, _, idx = block[1:].partition('_')
    blk = f'{stage}a' if not idx else f'{stage}b{idx}'
    if layer.startswith('conv'):
        return f'arg:res{blk}_{layer[5:]}_weight'
    return ('aux:' if 'running' in param else 'arg:') + f'bn{blk}_{layer[3:]}_{bn[param]}'


@pytest.mark.parametrize('legacy', [False, True])
def test_resnet38d_mxnet_conversion_round_trip(tmp_path, legacy):
    from mmwsss.models.backbones import ResNet38d
    from mmwsss.models.backbones.resnet38d_weights import convert_resnet38d_mxnet
    ref = ResNet38d()
    state = {k: v for k, v in ref.state_dict().items() if 'num_batches' not in k}
    arrays = {_mxnet_name(k): torch.randn_like(v.float()).numpy() for k, v in state.items()}
    arrays['arg:linear1000_weight'] = np.zeros((2, 2), np.float32)  # classifier: dropped
    path = str(tmp_path / 'r38.params')
    _write_params(path, arrays, legacy)
    converted = convert_resnet38d_mxnet(path)
    net = ResNet38d()
    net.load_state_dict(converted, strict=True)
    for k in state:
        assert np.array_equal(net.state_dict()[k].numpy(), arrays[_mxnet_name(k)]), k
    with pytest.raises(FileNotFoundError, match='ilsvrc-cls_rna-a1_cls1000_ep-0001.params'):
        convert_resnet38d_mxnet(str(tmp_path / 'missing.params'))


def test_seam_class_score_is_the_mean_of_the_cam_upsampled_to_the_input():
    """train_SEAM.py: ``label1 = F.adaptive_avg_pool2d(cam1, (1, 1))`` of ``Net.forward``'s
    ``cam``, upsampled to the input with ``align_corners=True``; each branch's loss
    averaged. ``pool_upsampled_cams=False``: the mean at feature resolution."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 36, 44)
    samples = [_sample([1]), _sample([2, 3])]
    targets = torch.tensor([[1., 0, 0], [0, 1, 1]])

    def transcribed(model, upsampled):
        def branch_loss(img):
            cam = model.head(model.extract_feat(img))
            if upsampled:
                cam = F.interpolate(cam, img.shape[-2:], mode='bilinear', align_corners=True)
            return F.multilabel_soft_margin_loss(F.adaptive_avg_pool2d(cam, 1).flatten(1),
                                                 targets)
        return (branch_loss(x) + branch_loss(model.transform(x))) / 2

    for upsampled in (True, False):
        torch.manual_seed(0)
        model = _tiny_seam(pool_upsampled_cams=upsampled).eval()  # no dropout, fixed BN
        with torch.no_grad():
            model.head.classifier.weight.mul_(100)  # CAMs far from 0: scores tell apart
            loss = model.loss(x, samples)['loss_cls']
            official, other = transcribed(model, upsampled), transcribed(model, not upsampled)
        assert torch.allclose(loss, official, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(loss, other, rtol=1e-4)  # the two are told apart


def _infer_seam_transcribed(model, img, present, scales):
    """infer_SEAM.py (YudeWang/SEAM) on one image, in torch: per scale and flip, ``Net``'s
    refined CAM upsampled to the scaled input (align_corners=True) then to the image
    (align_corners=False), times the label, flipped back; summed; ReLU; then its min-max
    quirk. The scaled input is our bilinear resize, not the script's PIL bicubic one."""
    h, w = img.shape[-2:]
    total = 0
    for s in scales:
        x = img if s == 1.0 else F.interpolate(img, scale_factor=s, mode='bilinear',
                                               align_corners=False)
        for flip in (False, True):
            xi = x.flip(-1) if flip else x
            cam = F.interpolate(model.single_scale_cams(xi), xi.shape[-2:], mode='bilinear',
                                align_corners=True)
            cam = F.interpolate(cam, (h, w), mode='bilinear', align_corners=False)[0]
            cam = cam * present.view(-1, 1, 1)
            total = total + (cam.flip(-1) if flip else cam)
    total = total.clamp(min=0)
    mn = total.flatten(1).amin(1).view(-1, 1, 1)
    mx = total.flatten(1).amax(1).view(-1, 1, 1)
    total = torch.where(total < mn + 1e-5, torch.zeros_like(total), total)
    return (total - mn - 1e-5) / (mx - mn + 1e-5)


def test_seam_inference_option_matches_infer_seam():
    """test_cfg norm='min_max' + upsample_via_scaled_input: SEAM's inference math; the
    script's negative values (pixels at a class's minimum, absent classes) are 0 here."""
    torch.manual_seed(0)
    scales = (1.0, 0.5, 1.5)
    model = _tiny_seam(test_cfg=dict(scales=scales, flip=True, norm='min_max',
                                     upsample_via_scaled_input=True)).eval()
    x = torch.rand(1, 3, 37, 45)
    with torch.no_grad():
        ours = model.predict(x, [_sample([1, 3], (37, 45))])[0].pred_cam.data
        official = _infer_seam_transcribed(model, x, torch.tensor([1., 0, 1]), scales)
        model.test_cfg.update(norm='max', upsample_via_scaled_input=False)  # PSA/IRN's
        default = model.predict(x, [_sample([1, 3], (37, 45))])[0].pred_cam.data
    # (the min-max step divides by a range ~1/70 of the values, which scales float noise)
    assert torch.allclose(ours, official.clamp(min=0), atol=1e-4)
    assert official[1].max() < 0 and ours[1].max() == 0  # absent class
    assert (default - ours).abs().max() > 0.05
    with pytest.raises(ValueError, match="test_cfg.norm='minmax': use one of"):
        _tiny_seam(test_cfg=dict(norm='minmax'))


def _official_seam_fg_cams(state, trunk, x):
    """``network/resnet38_SEAM.py:Net.forward`` (eval) and ``Net.PCM`` from its state dict, at
    feature resolution: the refined foreground CAMs. ``trunk`` runs ``forward_as_dict``."""
    conv4, conv5, conv6 = trunk(x)
    cam = F.conv2d(conv6, state['fc8.weight'])
    n, c, h, w = cam.shape
    cam_d = F.relu(cam)
    cam_d_max = torch.max(cam_d.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1) + 1e-5
    cam_d_norm = F.relu(cam_d - 1e-5) / cam_d_max
    cam_d_norm[:, 0] = 1 - torch.max(cam_d_norm[:, 1:], dim=1)[0]
    cam_max = torch.max(cam_d_norm[:, 1:], dim=1, keepdim=True)[0]
    cam_d_norm[:, 1:][cam_d_norm[:, 1:] < cam_max] = 0
    f8_3 = F.relu(F.conv2d(conv4, state['f8_3.weight']))
    f8_4 = F.relu(F.conv2d(conv5, state['f8_4.weight']))
    x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)
    f = F.conv2d(torch.cat([x_s, f8_3, f8_4], dim=1), state['f9.weight']).view(n, -1, h * w)
    f = f / (torch.norm(f, dim=1, keepdim=True) + 1e-5)
    aff = F.relu(torch.matmul(f.transpose(1, 2), f))
    aff = aff / (torch.sum(aff, dim=1, keepdim=True) + 1e-5)
    return torch.matmul(cam_d_norm.view(n, -1, h * w), aff).view(n, -1, h, w)[:, 1:]


def test_official_seam_weights_convert_to_the_same_cams(tmp_path):
    """tools/model_converters/seam2mmwsss.py: a ``Net`` state dict as SEAM's train script
    saves it (under ``module.``, fc8 with the background row) gives mmwsss the CAMs of the
    official forward; a state dict of something else is refused by name."""
    import os.path as osp

    from mmengine.config import Config

    from conftest import ROOT, run_tool
    from mmwsss.models.backbones.resnet38d_weights import convert_official_seam
    from mmwsss.utils.checkpoint import load_trained_checkpoint
    from mmwsss.utils.checkpoint import check_weights_fit_config
    cfg = Config.fromfile(osp.join(ROOT, VOC_SEAM))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    official = {k: v * (1 + 0.1 * torch.randn_like(v)) if k.endswith('conv_branch2a.weight')
                else v.clone() for k, v in model.backbone.state_dict().items()}
    official.update({'fc8.weight': torch.randn(21, 4096, 1, 1) * 0.05,
                     'f8_3.weight': torch.randn(64, 512, 1, 1),
                     'f8_4.weight': torch.randn(128, 1024, 1, 1),
                     'f9.weight': torch.randn(192, 195, 1, 1)})
    src, dst = str(tmp_path / 'resnet38_SEAM.pth'), str(tmp_path / 'seam_mmwsss.pth')
    torch.save({'module.' + k: v for k, v in official.items()}, src)  # as saved under DP
    run_tool('tools/model_converters/seam2mmwsss.py', src, dst)
    load_trained_checkpoint(model, dst, 'converted SEAM checkpoint')
    trunk = model.backbone.state_dict()
    assert all(torch.equal(trunk[k], official[k]) for k in trunk)
    x = torch.rand(1, 3, 40, 48)
    with torch.no_grad():
        ours = model.single_scale_cams(x)
        theirs = _official_seam_fg_cams(official, model.backbone, x)
    assert ours.shape == (1, 20, 5, 6)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    # HFPL's COCO Net (network/resnet38_SEAM_coco.py): fc8 of 1 + 80 rows fits the COCO
    # config only, and the VOC config refuses it by name
    official['fc8.weight'] = torch.randn(81, 4096, 1, 1)
    torch.save(official, src)
    out = run_tool('tools/model_converters/seam2mmwsss.py', src, dst)  # config chosen by fc8
    assert f'(fits {COCO_SEAM})' in out.stdout
    coco = torch.load(dst)['state_dict']
    assert torch.equal(coco['head.classifier.weight'], official['fc8.weight'][1:])
    with pytest.raises(ValueError, match=r'SEAM checkpoint does not fit the model of .*voc12aug'
                       r'.*: 1 have another shape \(e.g. head.classifier.weight \(80, 4096, 1, '
                       r'1\) \(model: \(20, 4096, 1, 1\)\)\)\. hint'):
        check_weights_fit_config(coco, osp.join(ROOT, VOC_SEAM), 'SEAM checkpoint', 'hint')
    torch.save({'fc8.weight': official['fc8.weight'], 'classifier.weight': torch.zeros(1)},
               src)
    with pytest.raises(ValueError, match=r'resnet38_SEAM.pth is not a network/resnet38_SEAM'
                       r'.py:Net state dict: weights missing: .*; unknown weights: 1 \(e.g. '
                       r'classifier.weight'):
        convert_official_seam(src)


def test_pil_bicubic_scales_are_the_official_pil_resize():
    """test_cfg scale_mode='pil_bicubic': SEAM's VOC12ClsDatasetMSF resizes the 8-bit image
    with PIL's bicubic filter to round(H·s); ours differs by rounding (PIL computes in fixed
    point): 1 grey level, 2 on under 1% of the pixels."""
    from PIL import Image
    rng = np.random.default_rng(0)
    img = np.asarray(Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)).resize(
        (45, 37), resample=Image.BICUBIC))  # smooth, with edges
    model = MODELS.build(dict(
        type='CAMClassifier',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375]),
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                      out_indices=(3, )),
        head=dict(type='CAMHead', in_channels=64, num_classes=3),
        test_cfg=dict(scale_mode='pil_bicubic')))
    pre = model.data_preprocessor
    x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() - pre.mean) / pre.std
    for s in (0.5, 1.5, 2.0):
        size = (round(45 * s), round(37 * s))  # PIL: (width, height)
        official = np.asarray(Image.fromarray(img).resize(size, resample=Image.BICUBIC))
        for mode in ('pil_bicubic', 'bilinear'):
            model.test_cfg['scale_mode'] = mode
            ours = model._rescale(x, s) * pre.std + pre.mean
            if mode == 'bilinear':  # floor(H·s), another filter: visibly another image
                assert ours.shape[-2:] == (int(37 * s), int(45 * s))
                continue
            ours = ours[0].permute(1, 2, 0).numpy()
            assert ours.shape == official.shape
            diff = np.abs(ours - official)  # PIL's fixed-point arithmetic: rounding apart
            assert diff.max() <= 2 + 1e-3 and (diff > 1.5).mean() < 0.01
    with pytest.raises(ValueError, match=r"scale_mode='pil': use one of \['bilinear', "):
        _tiny_seam(test_cfg=dict(scale_mode='pil'))
