"""GPU-speed switches and the pieces behind them, checked on CPU: training precision and
channels_last from the config, merged optimiser groups, mixed-size test batches, sync-free
multi-hot targets, SAM's SDPA attention, HFPL's colour term, and the tiny benchmark runs."""
import copy
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper
from mmseg.structures import SegDataSample

from conftest import CAM_CFG, ROOT, run_tool
from mmwsss.apis import apply_training_precision
from mmwsss.engine import ChannelsLastHook, merge_param_groups
from mmwsss.models.builder import build_module
from mmwsss.models.utils import multi_hot

# the CAM-family and DeepLab-v2 training configs of VOC and COCO
GPU_CONFIGS = sorted(osp.relpath(p, ROOT) for family in ('cam', 'seam', 'hfpl', 'deeplabv2')
                     for data in ('voc12aug', 'coco14')
                     for p in glob.glob(osp.join(ROOT, f'configs/{family}/*_{data}-*.py')))
CAM_VOC_CFG = 'configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py'
assert CAM_VOC_CFG in GPU_CONFIGS and len(GPU_CONFIGS) >= 10  # the glob still finds them
# CLIP + SAM: bf16, but no channels_last (a ViT)
VIT_GPU_CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(
    osp.join(ROOT, 'configs/clip_sam/clip-sam_vit-*.py')))
assert len(VIT_GPU_CONFIGS) >= 4


@pytest.mark.parametrize('path', GPU_CONFIGS + VIT_GPU_CONFIGS)
def test_gpu_configs_train_in_bf16_channels_last_and_fp32_stays_available(path):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert cfg.train_precision == 'bf16' and cfg.channels_last == (path in GPU_CONFIGS)
    assert apply_training_precision(copy.deepcopy(cfg), cuda_available=True) == 'bf16'
    bf16 = copy.deepcopy(cfg)
    apply_training_precision(bf16, cuda_available=True)
    ow = bf16.optim_wrapper
    assert ow.type == 'mmwsss.AmpOptimWrapper' and ow.dtype == 'bfloat16'
    other_scope = copy.deepcopy(cfg)  # where the mmwsss scope cannot be reached: MMEngine's
    other_scope.default_scope = 'mmdet'
    apply_training_precision(other_scope, cuda_available=True)
    assert other_scope.optim_wrapper.type == 'AmpOptimWrapper'
    assert ow.loss_scale == dict(enabled=False)  # no scaler: no inf check, no sync
    layout_hooks = ['mmwsss.ChannelsLastHook'] if cfg.channels_last else []
    assert [h.type for h in bf16.custom_hooks] == layout_hooks
    apply_training_precision(bf16, cuda_available=True)  # idempotent
    assert [h.type for h in bf16.custom_hooks] == layout_hooks
    fp32 = copy.deepcopy(cfg)
    fp32.train_precision, fp32.channels_last = 'fp32', False
    apply_training_precision(fp32, cuda_available=True)
    assert fp32.optim_wrapper.type == 'OptimWrapper'
    assert not {'dtype', 'loss_scale'} & set(fp32.optim_wrapper)
    assert fp32.custom_hooks == []
    # a GPU config on a machine without CUDA: a warning, then fp32
    cpu = copy.deepcopy(cfg)
    with pytest.warns(UserWarning, match='needs a CUDA GPU'):
        assert apply_training_precision(cpu, cuda_available=False) == 'fp32'
    assert cpu.optim_wrapper.type == 'OptimWrapper'


def test_synthetic_configs_default_to_fp32_and_bad_precision_is_named():
    cfg = Config.fromfile(CAM_CFG)
    assert cfg.train_precision == 'fp32' and not cfg.channels_last
    cfg.train_precision = 'bf32'
    with pytest.raises(ValueError, match="train_precision='bf32'"):
        apply_training_precision(cfg)


@pytest.mark.parametrize('mode', ['wrapper', 'late'])
def test_channels_last_under_ddp_averages_the_right_gradients(mode, tmp_path):
    """Converting to channels_last after DDP is built scrambles the averaged conv gradients;
    mmwsss.DistributedDataParallel(channels_last=True) converts first (2 gloo processes)."""
    out = tmp_path / 'res.json'
    run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29623',
             'tests/ddp_channels_last.py', str(out), mode)
    res = json.loads(out.read_text())
    assert res['channels_last']
    if mode == 'wrapper':
        assert max(res['errors']) < 1e-12
    else:  # the negative control: what the hook used to do
        assert res['errors'][0] > 1e-6


def test_channels_last_config_selects_the_converting_ddp_wrapper_and_hook_guards():
    from types import SimpleNamespace

    from mmwsss.engine import ChannelsLastHook
    cfg = Config(dict(optim_wrapper=dict(type='mmseg.AmpOptimWrapper', dtype='float16',
                                         optimizer=dict(type='SGD', lr=0.1)),
                      train_precision='fp32', channels_last=True))
    assert apply_training_precision(cfg, cuda_available=True) == 'fp32'
    assert cfg.optim_wrapper.type == 'OptimWrapper'  # any scope prefix of AmpOptimWrapper
    assert cfg.model_wrapper_cfg == dict(type='mmwsss.DistributedDataParallel',
                                         channels_last=True)
    assert cfg.custom_hooks == [dict(type='mmwsss.ChannelsLastHook')]
    # a model wrapped before conversion: the hook refuses instead of training wrong
    wrapped = torch.nn.parallel.DistributedDataParallel.__new__(
        torch.nn.parallel.DistributedDataParallel)
    torch.nn.Module.__init__(wrapped)
    wrapped.module = torch.nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match='wrapped for distributed training before'):
        ChannelsLastHook().before_run(SimpleNamespace(model=wrapped))


def test_a_config_without_the_switch_keeps_its_own_amp_wrapper():
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper', dtype='float16',
                                         loss_scale=512.0, optimizer=dict(type='SGD', lr=0.1))))
    assert apply_training_precision(cfg, cuda_available=True) == 'fp16'
    assert cfg.optim_wrapper.to_dict() == dict(type='AmpOptimWrapper', dtype='float16',
                                               loss_scale=512.0,
                                               optimizer=dict(type='SGD', lr=0.1))
    with pytest.warns(UserWarning, match='needs a CUDA GPU'):  # no CUDA: fp32, as before
        assert apply_training_precision(cfg, cuda_available=False) == 'fp32'
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'dtype' not in cfg.optim_wrapper


def _cam_model():
    cfg = Config.fromfile(CAM_CFG)
    torch.manual_seed(0)
    return build_module(cfg.model).eval(), cfg


def test_channels_last_hook_converts_weights_and_inputs_without_changing_outputs():
    model, _ = _cam_model()
    x = torch.randn(2, 3, 64, 64)
    before = model(x)
    runner = type('Runner', (), {'model': model})()
    ChannelsLastHook().before_run(runner)
    conv = model.backbone.conv1.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert not conv.is_contiguous()
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 64, 64),
                                                              dtype=torch.uint8)] * 2), False)
    assert data['inputs'].is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(model(x), before, atol=1e-5)


@pytest.mark.parametrize('path', [p for p in GPU_CONFIGS if '/deeplabv2/' in p])
def test_deeplabv2_optimiser_is_deeplabs(path):
    """DeepLab-v2's Caffe model: lr ×1 on the backbone, ×10 on the ASPP weights, ×20 and no
    weight decay on the ASPP biases; three groups after merging."""
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(ROOT, path))
    init_default_scope(cfg.default_scope)
    cfg.model.backbone.init_cfg = None
    with torch.device('meta'):
        model = build_module(cfg.model)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper)).optimizer.param_groups
    base_lr, base_wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    seen = {}
    for g in groups:
        kinds = {('aspp bias' if 'aspp' in names[id(p)] and names[id(p)].endswith('bias') else
                  'aspp weight' if 'aspp' in names[id(p)] else 'backbone') for p in g['params']}
        assert len(kinds) == 1
        seen[kinds.pop()] = (g['lr'] / base_lr, g['weight_decay'] / base_wd)
    assert seen == {'backbone': (1, 1), 'aspp weight': (10, 1), 'aspp bias': (20, 0)}


def test_grouped_constructor_merges_groups_and_trains_identically():
    cfg = Config.fromfile(osp.join(ROOT, CAM_VOC_CFG))
    cfg.train_precision = 'fp32'
    apply_training_precision(cfg, cuda_available=False)
    small, _ = _cam_model()  # r18-w16 model, the VOC config's optimiser and lr multipliers

    def mmengine_default(model):
        ow = copy.deepcopy(cfg.optim_wrapper)
        assert ow.pop('constructor') == 'mmwsss.GroupedOptimWrapperConstructor'
        return DefaultOptimWrapperConstructor(ow, ow.pop('paramwise_cfg'))(model)

    per_param = mmengine_default(copy.deepcopy(small))
    assert len(per_param.optimizer.param_groups) > 10  # MMEngine: one group per parameter
    models = [copy.deepcopy(small).train() for _ in range(2)]
    wrappers = [mmengine_default(models[0]),
                build_optim_wrapper(models[1], copy.deepcopy(cfg.optim_wrapper))]
    merged = wrappers[1].optimizer.param_groups
    assert len(merged) == 2 and sorted(g['lr'] for g in merged) == [0.01, 0.1]
    head = {id(p) for p in models[1].head.parameters()}
    for g in merged:
        assert all((id(p) in head) == (g['lr'] == 0.1) for p in g['params'])
    x = torch.randn(2, 3, 64, 64)
    samples = []
    for labels in ([1, 3], [2]):
        ds = SegDataSample()
        ds.gt_img_labels = torch.tensor(labels)
        samples.append(ds)
    for _ in range(2):
        for m, w in zip(models, wrappers):
            w.update_params(sum(m.loss(x, samples)[k] for k in ('loss_cls', )))
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert merge_param_groups([dict(params=[1], lr=1), dict(params=[2], lr=2),
                               dict(params=[3], lr=1)]) == [dict(params=[1, 3], lr=1),
                                                            dict(params=[2], lr=2)]


def test_mixed_size_test_batch_matches_single_images():
    model, _ = _cam_model()
    big = torch.randint(0, 255, (3, 64, 80), dtype=torch.uint8)
    small = torch.randint(0, 255, (3, 40, 56), dtype=torch.uint8)

    def sample(img, labels):
        ds = SegDataSample(metainfo=dict(ori_shape=img.shape[-2:], img_shape=img.shape[-2:]))
        ds.gt_img_labels = torch.tensor(labels)
        return ds

    with torch.no_grad():
        both = model.test_step(dict(inputs=[big, small],
                                    data_samples=[sample(big, [1, 2]), sample(small, [3])]))
        alone = [model.test_step(dict(inputs=[img], data_samples=[sample(img, lab)]))[0]
                 for img, lab in ((big, [1, 2]), (small, [3]))]
    # the largest image is not padded: identical CAMs; the small one keeps its own size
    assert torch.allclose(both[0].pred_cam.data, alone[0].pred_cam.data, atol=1e-5)
    cam = both[1].pred_cam.data
    assert cam.shape == (5, 40, 56) and both[1].pad_shape == (64, 80)
    assert torch.isclose(cam[2].max(), torch.tensor(1.0), atol=1e-3)  # normalised on its crop
    assert cam[[0, 1, 3, 4]].abs().max() == 0
    # the padding reaches it only through receptive fields that cross its border
    diff = (cam[2] - alone[1].pred_cam.data[2]).abs()
    assert diff[:20, :28].mean() < diff[20:, 28:].mean()


def test_multi_hot_is_one_scatter_and_names_a_bad_label():
    samples = []
    for labels in ([1, 3], [], [2, 4]):
        ds = SegDataSample(metainfo=dict(img_path=f'img{len(samples)}.jpg'))
        ds.gt_img_labels = torch.tensor(labels, dtype=torch.long)
        samples.append(ds)
    assert multi_hot(samples, 4).tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 1]]
    samples[2].gt_img_labels = torch.tensor([5])
    with pytest.raises(ValueError, match=r'img2.jpg: image-level labels \[5\] outside 1..4'):
        multi_hot(samples, 4)


def test_feature_similarity_colour_term_matches_cdist_and_kernel_is_cached():
    from mmwsss.models.losses import FeatureSimilarityLoss
    loss = FeatureSimilarityLoss()
    img = torch.rand(2, 3, 6, 7)
    x = img.flatten(2).transpose(1, 2)
    ref = (torch.cdist(x, x, p=1) / 3).clamp(0, 1)
    ref = torch.tanh(loss.mu + torch.log((ref + 1e-5) / (1 - ref + 1e-5)))
    assert torch.allclose(loss.colour_term(img), ref, atol=1e-5)
    k = loss.spatial_kernel(6, 7, 'cpu')
    assert loss.spatial_kernel(6, 7, 'cpu') is k
    assert loss.spatial_kernel(5, 7, 'cpu').shape == (35, 35)


def test_sdpa_sam_attention_matches_segment_anything_and_is_restored():
    from segment_anything.modeling.image_encoder import Attention
    from mmwsss.models.sam import build_sam_model, sdpa_image_encoder
    spec = dict(image_size=64, patch_size=8, encoder_embed_dim=32, encoder_depth=2,
                encoder_num_heads=2, encoder_global_attn_indexes=(1, ), window_size=3,
                use_rel_pos=True, prompt_embed_dim=32, decoder_depth=1, decoder_mlp_dim=64,
                decoder_num_heads=2, iou_head_hidden_dim=32)
    torch.manual_seed(0)
    sam = build_sam_model(spec).eval()
    for m in sam.image_encoder.modules():  # rel-pos tables are zero-initialised: make them count
        if isinstance(m, Attention):
            m.rel_pos_h.data.normal_()
            m.rel_pos_w.data.normal_()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = sam.image_encoder(x)
        with sdpa_image_encoder(sam.image_encoder):
            fast = sam.image_encoder(x)
        again = sam.image_encoder(x)
    assert torch.allclose(fast, ref, atol=1e-4)
    assert torch.equal(again, ref)
    assert all('forward' not in vars(m) for m in sam.image_encoder.modules())


def test_op_counter_sees_backward_and_every_kind_of_host_sync():
    from mmwsss.utils import OpCounter
    x = torch.randn(4, 5, requires_grad=True)
    with OpCounter() as clean:
        (x * 2).relu().sum().backward()
    assert clean.counts['aten::threshold_backward'] == 1 and not clean.syncs
    y = x.detach().clone()
    with OpCounter() as ops:
        y.sum().item()
        bool(y.amax() > 0)
        y[y > 0]
        y[y > 0] = 0
        torch.where(y < 0)
        y[torch.tensor([0, 1])]  # integer indexing does not sync
    assert ops.syncs == {'aten::_local_scalar_dense': 2, 'aten::index (bool mask)': 1,
                         'aten::index_put_ (bool mask)': 1, 'aten::nonzero': 1}


@pytest.mark.parametrize('script', ['train_throughput', 'cam_inference', 'label_throughput',
                                    'data_throughput', 'crf_labels'])
def test_benchmarks_run_tiny_on_cpu_and_report_ratios(script, tmp_path):
    out = tmp_path / 'res.json'
    run_tool(f'benchmarks/{script}.py', '--tiny', '--json', str(out), timeout=900)
    res = json.loads(out.read_text())
    if script == 'train_throughput':
        assert set(res['results']) == {'cam', 'seam', 'seam_hfpl', 'deeplabv2'}
        for r in res['results'].values():
            assert r['mmwsss_img_s'] > 0 and r['baseline_img_s'] > 0
            assert r['ratio'] == pytest.approx(r['mmwsss_img_s'] / r['baseline_img_s'])
            assert r['precision'] == 'fp32'  # tiny configs, CPU
            assert r['mmwsss_syncs'] == {}  # no hidden host-device sync in any training step
            assert r['mmwsss_ops'] > 0 and r['baseline_ops'] > 0
        # the baselines run the same networks: the same arithmetic (official SEAM also scores a
        # background channel of fc8 that no loss reaches, which mmwsss does not compute)
        for case in ('cam', 'deeplabv2'):
            r = res['results'][case]
            assert r['mmwsss_gflop'] == pytest.approx(r['baseline_gflop'], rel=1e-9)
        seam = res['results']['seam']
        assert 0.999 * seam['baseline_gflop'] < seam['mmwsss_gflop'] < seam['baseline_gflop']
        # the counter sees syncs where there are some: the official SEAM step's loss.item()
        # and boolean-mask assignments
        official = res['results']['seam']['baseline_syncs']
        assert official['aten::_local_scalar_dense'] == 1
        assert official['aten::index_put_ (bool mask)'] >= 2
    elif script == 'label_throughput':
        for path in ('fp32', 'bf16', 'bf16_serial'):
            assert res[f'speedup_{path}'] == pytest.approx(
                res[f'batched_{path}_img_s'] / res['reference_img_s'])
        assert res['agreement_overlap_vs_serial'] == 1.0
        assert res['agreement_fp32_vs_reference'] > 0.8  # merge rule and resize differ
        assert set(res['bf16_stage_ms_per_image']) == {
            'detect', 'sam_encode', 'sam_decode', 'sam_upsample', 'total'}
    elif script == 'data_throughput':
        assert set(res['results']) == {'cam', 'seam', 'deeplabv2'}
        for r in res['results'].values():
            # training samples of the crop size (mmseg's crop leaves smaller images smaller;
            # the data preprocessor pads them on the device)
            assert r['baseline_shape'][-2:] == [r['crop']] * 2
            assert max(r['mmwsss_shape'][-2:]) == r['crop'] >= min(r['mmwsss_shape'][-2:])
            assert r['ratio'] == pytest.approx(
                r['mmwsss_img_s_per_worker'] / r['baseline_img_s_per_worker'])
            assert r['workers_needed'] >= r['step_img_s'] / r['mmwsss_img_s_per_worker']
    elif script == 'crf_labels':
        assert res['labels_equal'] == 1.0  # worker processes change nothing in the labels
        assert res['ratio'] == pytest.approx(res['pool_img_s'] / res['serial_img_s'])
        stage = res['crf_stage']
        assert stage['ratio'] == pytest.approx(
            stage['serial_s_per_img'] / stage['pool_s_per_img'])
    else:
        assert res['batched_img_s'] > 0 and res['reference_img_s'] > 0
        assert res['label_agreement'] > 0.9  # fp32 both: only padded borders may differ


def test_deeplabv2_head_accuracy_and_loss_are_mmsegs_without_syncs():
    import torch.nn.functional as F
    from mmseg.models.losses import accuracy

    from mmwsss.utils import OpCounter
    from mmwsss.models.utils import pixel_accuracy
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 9, 11, generator=g)
    labels = torch.randint(0, 5, (2, 9, 11), generator=g)
    labels[0, :3] = 255
    assert torch.allclose(pixel_accuracy(logits, labels), accuracy(logits, labels,
                                                                     ignore_index=255))
    labels[:] = 255  # nothing valid: mmseg gives ~0, not a division by zero
    assert torch.allclose(pixel_accuracy(logits, labels), accuracy(logits, labels,
                                                                     ignore_index=255))
    # the head's loss is mmseg's loss_by_feat, value for value
    from mmengine.structures import PixelData
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    head = build_module(dict(type='DeepLabV2Head', in_channels=8, num_classes=5, in_index=0,
                             dilations=(1, 2)))
    feats = [torch.randn(2, 8, 5, 6, generator=g)]
    samples = []
    for i in range(2):
        ds = SegDataSample()
        lab = torch.randint(0, 5, (1, 20, 24), generator=g)
        lab[:, :4] = 255
        ds.gt_sem_seg = PixelData(data=lab)
        samples.append(ds)
    ours = head.loss_by_feat(head(feats), samples)
    ref = BaseDecodeHead.loss_by_feat(head, head(feats), samples)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert torch.allclose(ours[k], ref[k]), k
    # the configs' mean over labelled pixels (avg_non_ignore=True): mmseg's value and PyTorch's
    # CrossEntropyLoss(ignore_index=255) (the WSSS final stages), without mmseg's .item()
    head = build_module(dict(type='DeepLabV2Head', in_channels=8, num_classes=5, in_index=0,
                             dilations=(1, 2), loss_decode=dict(
                                 type='CrossEntropyLoss', avg_non_ignore=True)))
    logits = head(feats)
    with OpCounter() as ops:
        ours = head.loss_by_feat(logits, samples)['loss_ce']
    assert not ops.syncs
    ref = BaseDecodeHead.loss_by_feat(head, logits, samples)['loss_ce']
    labels = torch.cat([ds.gt_sem_seg.data for ds in samples])
    up = F.interpolate(logits, labels.shape[-2:], mode='bilinear', align_corners=False)
    torch_mean = F.cross_entropy(up, labels, ignore_index=255)
    assert torch.allclose(ours, ref) and torch.allclose(ours, torch_mean)
    all_pixels_mean = F.cross_entropy(up, labels, ignore_index=255,
                                      reduction='sum') / labels.numel()  # mmseg's default
    assert not torch.allclose(ours, all_pixels_mean)
    for ds in samples:
        ds.gt_sem_seg.data[:] = 255  # nothing labelled: 0, as mmseg
    assert head.loss_by_feat(logits, samples)['loss_ce'] == 0


@pytest.mark.parametrize('saved', ['bf16', 'fp32'])
def test_fp16_resumes_a_checkpoint_saved_in_another_precision(saved, monkeypatch):
    """bf16 saves an empty loss-scaler state; loading it into an fp16 wrapper (resume with
    --precision fp16) must start a fresh scale, not raise. MMEngine's CUDA check and
    GradScaler are pointed at the CPU so the real load path runs here."""
    import functools

    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    from mmengine.optim import build_optim_wrapper
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(amp, 'GradScaler', functools.partial(torch.amp.GradScaler, 'cpu'))

    def trained_wrapper(precision):
        cfg = Config(dict(train_precision=precision, optim_wrapper=dict(
            type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9))))
        apply_training_precision(cfg, cuda_available=True)
        model = torch.nn.Linear(2, 2)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        wrapper.update_params(model(torch.ones(1, 2)).sum())
        return wrapper

    state = copy.deepcopy(trained_wrapper(saved).state_dict())
    fp16 = trained_wrapper('fp16')
    assert fp16.loss_scaler.is_enabled()
    fp16.load_state_dict(state)
    momentum = next(iter(fp16.optimizer.state.values()))['momentum_buffer']
    saved_momentum = next(iter(state['state'].values()))['momentum_buffer']
    assert torch.equal(momentum, saved_momentum)  # the optimiser state did load
    assert fp16.loss_scaler.get_scale() == 2.0 ** 16  # a fresh scale
