"""Training-step throughput: mmwsss configs through MMEngine's path against plain PyTorch.

For each case the mmwsss step is what the Runner runs per iteration: the config's model (random
weights) with its data preprocessor, ``build_optim_wrapper(cfg.optim_wrapper)`` after
``apply_training_precision`` (the config's ``train_precision`` / ``channels_last`` switches), and
``model.train_step(batch, optim_wrapper)`` on a batch as the data loader gives it (uint8 images
on the host, data samples). The baseline, timed in the same run on the same device:

* ``cam``: the same backbone + 1×1 classifier + GAP + multi-label soft margin, a plain
  ``loss.backward(); opt.step()`` loop on a normalised GPU tensor, at the config's precision and
  layout (what the framework costs);
* ``seam`` / ``seam_hfpl``: the official SEAM step (YudeWang/SEAM ``train_SEAM.py`` main loop and
  ``network/resnet38_SEAM.py:Net.forward`` / ``PCM``), fp32 NCHW as released, on the same
  backbone: image + 0.3-rescaled copy, cls + ER + ECR + min-pooling losses, ``loss.item()`` per
  step as its meter logs;
* ``deeplabv2``: torchvision ResNet-101 at output stride 8 + ASPP-v2 (sum of four dilated 3×3
  convolutions), frozen BatchNorm, cross-entropy with ignore 255, bf16 autocast + channels_last.

Each timing: warm-up steps, then the median images/s over several synchronised windows. The
Runner's hooks are not timed (``RuntimeInfoHook`` reads the losses with ``.item()`` once per
iteration in real training).

A host-bound step is as fast as the host can launch its operators, so each step is also
counted (one step under ``mmwsss.utils.OpCounter``, backward included): ATen operators per
step, and the operators that make the host wait for the device (``.item()``, boolean-mask
indexing, ``nonzero``...); and PyTorch's ``FlopCounterMode`` gives its FLOPs, which show
whether both sides do the same arithmetic. These counts do not depend on the device, so they
can be compared on CPU; the tiny run in CI requires zero syncs in every mmwsss step and equal
FLOPs where the networks are the same.

    python benchmarks/train_throughput.py --tiny                 # CPU, tiny configs (CI)
    python benchmarks/train_throughput.py --device cuda [--cases seam deeplabv2] [--profile DIR]
    python benchmarks/train_throughput.py --device cuda --compile [reduce-overhead]
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import mmwsss  # noqa: E402,F401
from mmwsss.apis.precision import apply_training_precision  # noqa: E402
from mmwsss.engine import to_channels_last  # noqa: E402
from mmwsss.models.builder import build_module  # noqa: E402
from mmwsss.utils.precision import precision_autocast  # noqa: E402
from mmwsss.utils.io import dump_json_atomic  # noqa: E402
from mmwsss.utils.op_count import OpCounter  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CASES = {
    'cam': ('configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py',
            'configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py', 'plain CAM'),
    'seam': ('configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py',
             'configs/seam/seam_r18-w16_1xb16-1000it_synthetic-96x96.py', 'official SEAM'),
    'seam_hfpl': ('configs/hfpl/hfpl-seam_wr38_1xb8-8e_voc12aug-448x448.py',
                  'configs/hfpl/hfpl-seam_r18-w16_1xb16-1000it_synthetic-96x96.py',
                  'official SEAM'),
    'deeplabv2': ('configs/deeplabv2/deeplabv2_r101_1xb10-20k_voc12aug-pseudo-321x321.py',
                  'configs/deeplabv2/deeplabv2_r18-w16_1xb16-1000it_synthetic-gt-96x96.py',
                  'torchvision DeepLab-v2'),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--tiny', action='store_true', help='the tiny synthetic configs, small crops')
    p.add_argument('--cases', nargs='+', choices=list(CASES), default=list(CASES))
    p.add_argument('--precision', choices=['bf16', 'fp32'],
                   help="override the configs' train_precision (GPU configs: bf16)")
    p.add_argument('--compile', nargs='?', const='default',
                   choices=['default', 'reduce-overhead', 'max-autotune'],
                   help="torch.compile the mmwsss train_step as MMEngine's `compile` config "
                        "key does (value: torch.compile's mode; reduce-overhead = CUDA graphs)")
    p.add_argument('--batch-size', type=int, help='default: the config (--tiny: 2)')
    p.add_argument('--crop', type=int, help='default: the config (--tiny: 64)')
    p.add_argument('--warmup', type=int, default=None, help='default 5 (--tiny 1)')
    p.add_argument('--windows', type=int, default=None, help='default 5 (--tiny 2)')
    p.add_argument('--steps', type=int, default=None, help='steps per window, default 5 (tiny 1)')
    p.add_argument('--profile', help='write a torch.profiler table of each mmwsss step here')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--top-ops', type=int, default=0,
                   help='print the N most frequent operators of each step')
    args = p.parse_args()
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)
    args.windows = args.windows or (2 if args.tiny else 5)
    args.steps = args.steps or (1 if args.tiny else 5)
    return args


# ---------------------------------------------------------------- configs and batches
def load_case(name: str, args) -> Config:
    full, tiny, _ = CASES[name]
    cfg = Config.fromfile(osp.join(ROOT, full))
    if args.tiny:  # the tiny model, with the optimiser the GPU config trains with
        optim_wrapper = cfg.optim_wrapper
        cfg = Config.fromfile(osp.join(ROOT, tiny))
        cfg.optim_wrapper = optim_wrapper
    cfg.model.backbone.pop('init_cfg', None)  # random weights: nothing to load
    if args.precision:
        cfg.train_precision = args.precision
    if args.compile:
        cfg.compile = True if args.compile == 'default' else dict(mode=args.compile)
    apply_training_precision(cfg, cuda_available=torch.device(args.device).type == 'cuda')
    crop = args.crop or (64 if args.tiny else _crop_size(cfg))
    cfg.model.data_preprocessor.size = (crop, crop)
    cfg.bench_crop = crop
    cfg.bench_batch = args.batch_size or (2 if args.tiny else cfg.train_dataloader.batch_size)
    return cfg


def _crop_size(cfg: Config) -> int:
    for t in cfg.train_dataloader.dataset.pipeline:
        if t['type'] in ('RandomCrop', 'mmseg.RandomCrop'):
            return int(t['crop_size'][0])
    return int(cfg.crop_size[0])


def num_classes(cfg: Config) -> int:
    head = cfg.model.get('head') or cfg.model.decode_head
    return head.num_classes


def data_batch(cfg: Config, segmentation: bool, seed: int = 0, pin: bool = False) -> dict:
    """A batch as the data loader gives it: uint8 BGR images, data samples with image-level
    labels (CAM) or label maps (segmentation); in pinned memory if ``pin`` (the GPU configs'
    loaders use ``pin_memory=True``)."""
    g = torch.Generator().manual_seed(seed)
    n, s, k = cfg.bench_batch, cfg.bench_crop, num_classes(cfg)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, s, s), dtype=torch.uint8, generator=g))
        ds = SegDataSample(metainfo=dict(img_shape=(s, s), ori_shape=(s, s)))
        if segmentation:
            ds.gt_sem_seg = PixelData(data=torch.randint(0, k, (1, s, s), generator=g))
        else:
            ds.set_field(torch.randperm(k, generator=g)[:2].sort().values + 1, 'gt_img_labels')
        samples.append(ds)
    if pin:
        inputs = [x.pin_memory() for x in inputs]
        for ds in samples:
            if segmentation:
                ds.gt_sem_seg.data = ds.gt_sem_seg.data.pin_memory()
            else:
                ds.gt_img_labels = ds.gt_img_labels.pin_memory()
    return dict(inputs=inputs, data_samples=samples)


def normalised(batch: dict, device, segmentation: bool):
    """The same batch as normalised RGB float tensors on ``device`` (what a plain loop feeds)."""
    mean = torch.tensor([123.675, 116.28, 103.53], device=device)[:, None, None]
    std = torch.tensor([58.395, 57.12, 57.375], device=device)[:, None, None]
    x = torch.stack([(img.to(device).flip(0).float() - mean) / std for img in batch['inputs']])
    if segmentation:
        y = torch.cat([ds.gt_sem_seg.data for ds in batch['data_samples']]).to(device)
    else:
        k = max(int(ds.gt_img_labels.max()) for ds in batch['data_samples'])
        y = torch.zeros(len(x), k, device=device)
        for i, ds in enumerate(batch['data_samples']):
            y[i, ds.gt_img_labels - 1] = 1
    return x, y


# ---------------------------------------------------------------- the mmwsss step
def mmwsss_step(cfg: Config, device, segmentation: bool) -> Callable[[], None]:
    """The Runner's per-iteration work: ``model.train_step(batch, optim_wrapper)``."""
    model = build_module(copy.deepcopy(cfg.model)).to(device).train()
    if cfg.get('channels_last'):
        to_channels_last(model)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    batch = data_batch(cfg, segmentation, pin=device.type == 'cuda')
    train_step = model.train_step
    if cfg.get('compile'):  # as Runner._maybe_compile('train_step') does with cfg.compile
        train_step = torch.compile(train_step, **({} if cfg.compile is True else cfg.compile))
    return lambda: train_step(batch, wrapper)


# ---------------------------------------------------------------- baselines
class PlainCAM(nn.Module):
    def __init__(self, backbone: nn.Module, channels: int, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = nn.Conv2d(channels, classes, 1, bias=False)

    def forward(self, x):
        return self.classifier(self.backbone(x)[-1]).mean((2, 3))


def plain_cam_step(cfg: Config, device) -> Callable[[], None]:
    head = cfg.model.head
    net = PlainCAM(build_module(copy.deepcopy(cfg.model.backbone)), head.in_channels,
                   head.num_classes).to(device).train()
    x, y = normalised(data_batch(cfg, False), device, False)
    y = F.pad(y, (0, head.num_classes - y.shape[1]))
    if cfg.get('channels_last'):
        net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)

    def step():
        with precision_autocast(cfg.train_precision, device):
            loss = F.multilabel_soft_margin_loss(net(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


class OfficialSEAMNet(nn.Module):
    """``network/resnet38_SEAM.py:Net`` of YudeWang/SEAM around a given trunk that returns
    (conv4, conv5, conv6): fc8 with a background channel, PCM on detached conv4/conv5."""

    def __init__(self, backbone: nn.Module, in_channels, feat_channels, out_channels: int,
                 head_channels: int, classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout7 = nn.Dropout2d(0.5)
        self.fc8 = nn.Conv2d(head_channels, classes + 1, 1, bias=False)
        self.f8_3 = nn.Conv2d(in_channels[0], feat_channels[0], 1, bias=False)
        self.f8_4 = nn.Conv2d(in_channels[1], feat_channels[1], 1, bias=False)
        self.f9 = nn.Conv2d(sum(feat_channels) + 3, out_channels, 1, bias=False)

    def forward(self, x):
        n, _, big_h, big_w = x.shape
        conv4, conv5, conv6 = self.backbone(x)
        cam = self.fc8(self.dropout7(conv6))
        n, c, h, w = cam.shape
        with torch.no_grad():
            cam_d = F.relu(cam.detach())
            cam_d_max = torch.max(cam_d.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1) + 1e-5
            cam_d_norm = F.relu(cam_d - 1e-5) / cam_d_max
            cam_d_norm[:, 0] = 1 - torch.max(cam_d_norm[:, 1:], dim=1)[0]
            cam_max = torch.max(cam_d_norm[:, 1:], dim=1, keepdim=True)[0]
            cam_d_norm[:, 1:][cam_d_norm[:, 1:] < cam_max] = 0
        f8_3 = F.relu(self.f8_3(conv4.detach()), inplace=True)
        f8_4 = F.relu(self.f8_4(conv5.detach()), inplace=True)
        x_s = F.interpolate(x, (h, w), mode='bilinear', align_corners=True)
        f = torch.cat([x_s, f8_3, f8_4], dim=1)
        cam_rv = F.interpolate(self.pcm(cam_d_norm, f), (big_h, big_w), mode='bilinear',
                               align_corners=True)
        cam = F.interpolate(cam, (big_h, big_w), mode='bilinear', align_corners=True)
        return cam, cam_rv

    def pcm(self, cam, f):
        n, c, h, w = f.shape
        cam = F.interpolate(cam, (h, w), mode='bilinear', align_corners=True).view(n, -1, h * w)
        f = self.f9(f).view(n, -1, h * w)
        f = f / (torch.norm(f, dim=1, keepdim=True) + 1e-5)
        aff = F.relu(torch.matmul(f.transpose(1, 2), f), inplace=True)
        aff = aff / (torch.sum(aff, dim=1, keepdim=True) + 1e-5)
        return torch.matmul(cam, aff).view(n, -1, h, w)


def _official_max_norm(p, e=1e-5):  # tool/visualization.py:max_norm, 4-D branch
    n, c, h, w = p.shape
    p = F.relu(p)
    max_v = torch.max(p.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1)
    min_v = torch.min(p.view(n, c, -1), dim=-1)[0].view(n, c, 1, 1)
    return F.relu(p - min_v - e) / (max_v - min_v + e)


def _official_min_pooling_loss(x):  # train_SEAM.py:adaptive_min_pooling_loss
    n, c, h, w = x.shape
    k = h * w // 4
    x = torch.max(x, dim=1)[0]
    y = torch.topk(x.view(n, -1), k=k, dim=-1, largest=False)[0]
    return torch.sum(F.relu(y)) / (k * n)


def _official_max_onehot(x):  # train_SEAM.py:max_onehot
    x_max = torch.max(x[:, 1:], dim=1, keepdim=True)[0]
    x[:, 1:][x[:, 1:] != x_max] = 0
    return x


def official_seam_step(cfg: Config, device) -> Callable[[], None]:
    """One iteration of ``train_SEAM.py``'s loop, fp32 and NCHW as released."""
    neck, head = cfg.model.cam_neck, cfg.model.head
    net = OfficialSEAMNet(build_module(copy.deepcopy(cfg.model.backbone)), neck.in_channels,
                          neck.feat_channels, neck.out_channels, head.in_channels,
                          head.num_classes).to(device).train()
    img1, y = normalised(data_batch(cfg, False), device, False)
    y = F.pad(y, (0, head.num_classes - y.shape[1]))
    label = torch.cat([torch.ones(len(y), 1, device=device), y], 1)[..., None, None]
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=5e-4, weight_decay=5e-4)
    scale = 0.3

    def step():
        img2 = F.interpolate(img1, scale_factor=scale, mode='bilinear', align_corners=True)
        cam1, cam_rv1 = net(img1)
        label1 = F.adaptive_avg_pool2d(cam1, (1, 1))
        loss_rvmin1 = _official_min_pooling_loss((cam_rv1 * label)[:, 1:])
        cam1 = F.interpolate(_official_max_norm(cam1), scale_factor=scale, mode='bilinear',
                             align_corners=True) * label
        cam_rv1 = F.interpolate(_official_max_norm(cam_rv1), scale_factor=scale,
                                mode='bilinear', align_corners=True) * label
        cam2, cam_rv2 = net(img2)
        label2 = F.adaptive_avg_pool2d(cam2, (1, 1))
        loss_rvmin2 = _official_min_pooling_loss((cam_rv2 * label)[:, 1:])
        cam2 = _official_max_norm(cam2) * label
        cam_rv2 = _official_max_norm(cam_rv2) * label
        loss_cls1 = F.multilabel_soft_margin_loss(label1[:, 1:, 0, 0], label[:, 1:, 0, 0])
        loss_cls2 = F.multilabel_soft_margin_loss(label2[:, 1:, 0, 0], label[:, 1:, 0, 0])
        ns, cs, hs, ws = cam2.shape
        loss_er = torch.mean(torch.abs(cam1[:, 1:] - cam2[:, 1:]))
        cam1[:, 0] = 1 - torch.max(cam1[:, 1:], dim=1)[0]
        cam2[:, 0] = 1 - torch.max(cam2[:, 1:], dim=1)[0]
        k = int(cs * hs * ws * 0.2)
        ecr1 = torch.abs(_official_max_onehot(cam2.detach()) - cam_rv1)
        ecr2 = torch.abs(_official_max_onehot(cam1.detach()) - cam_rv2)
        loss_ecr = (torch.mean(torch.topk(ecr1.view(ns, -1), k=k, dim=-1)[0]) +
                    torch.mean(torch.topk(ecr2.view(ns, -1), k=k, dim=-1)[0]))
        loss = ((loss_cls1 + loss_cls2) / 2 + (loss_rvmin1 + loss_rvmin2) / 2 + loss_er +
                loss_ecr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # the official AverageMeter logs every step
    return step


class TorchvisionDeepLabV2(nn.Module):
    """ResNet-101 at output stride 8 (torchvision, dilation in layers 3-4) + ASPP-v2."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        from torchvision.models import resnet101
        r = resnet101(weights=None, replace_stride_with_dilation=[False, True, True])
        self.body = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2,
                                  r.layer3, r.layer4)
        self.aspp = nn.ModuleList(
            nn.Conv2d(2048, classes, 3, padding=d, dilation=d) for d in (6, 12, 18, 24))

    def forward(self, x):
        f = self.body(x)
        return sum(conv(f) for conv in self.aspp)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():  # DeepLab-v2 keeps BatchNorm frozen
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self


def plain_deeplab_step(cfg: Config, device, tiny: bool) -> Callable[[], None]:
    k = num_classes(cfg)
    if tiny:  # torchvision's BasicBlock has no dilation: the config's backbone instead
        backbone = build_module(copy.deepcopy(cfg.model.backbone))
        c = cfg.model.decode_head.in_channels
        net = nn.ModuleDict(dict(body=backbone, aspp=nn.ModuleList(
            nn.Conv2d(c, k, 3, padding=d, dilation=d) for d in (1, 2, 3, 4))))

        def forward(x):
            feat = net.body(x)[-1]
            return sum(conv(feat) for conv in net.aspp)
    else:
        net = TorchvisionDeepLabV2(k)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.requires_grad_(False)
        forward = net
    net.to(device).train()
    x, y = normalised(data_batch(cfg, True), device, True)
    if cfg.get('channels_last'):
        net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3,
                          momentum=0.9, weight_decay=5e-4)

    def step():
        with precision_autocast(cfg.train_precision, device):
            logits = forward(x)
            logits = F.interpolate(logits, size=y.shape[-2:], mode='bilinear',
                                   align_corners=False)
            loss = F.cross_entropy(logits.float(), y, ignore_index=255)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def baseline_step(name: str, cfg: Config, device, tiny: bool) -> Callable[[], None]:
    if name == 'cam':
        return plain_cam_step(cfg, device)
    if name in ('seam', 'seam_hfpl'):
        return official_seam_step(cfg, device)
    return plain_deeplab_step(cfg, device, tiny)


# ---------------------------------------------------------------- timing
def images_per_second(step: Callable[[], None], batch: int, device, args) -> float:
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.windows):
        sync()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        rates.append(args.steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def count_ops(step: Callable[[], None]) -> OpCounter:
    """One step under an operator counter and PyTorch's FLOP counter (after the timed steps:
    caches are warm). ``ops.flops``: the step's floating-point operations."""
    from torch.utils.flop_counter import FlopCounterMode
    flops = FlopCounterMode(display=False)
    with flops, OpCounter() as ops:
        step()
    ops.flops = flops.get_total_flops()
    return ops


def profile_step(step: Callable[[], None], device, path: str) -> None:
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
    with profile(activities=acts) as prof:
        for _ in range(3):
            step()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    key = 'cuda_time_total' if device.type == 'cuda' else 'cpu_time_total'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(prof.key_averages().table(sort_by=key, row_limit=40))


def _fmt(syncs: Dict[str, int]) -> str:
    return ', '.join(f'{k} x{v}' for k, v in syncs.items()) or 'none'


def main() -> Dict[str, dict]:
    args = parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type == 'cuda':  # as tools/train.py's CudnnBenchmarkHook sets it for training
        torch.backends.cudnn.benchmark = True
    results = {}
    print(f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}"
          f"{' | tiny configs' if args.tiny else ''} | random weights | synthetic batches")
    for name in args.cases:
        cfg = load_case(name, args)
        seg = name == 'deeplabv2'
        ours = mmwsss_step(cfg, device, seg)
        ours_ips = images_per_second(ours, cfg.bench_batch, device, args)
        ours_ops = count_ops(ours)
        if args.profile:
            profile_step(ours, device, osp.join(args.profile, f'{name}.txt'))
        del ours
        if device.type == 'cuda':
            torch.cuda.empty_cache()
        base = baseline_step(name, cfg, device, args.tiny)
        base_ips = images_per_second(base, cfg.bench_batch, device, args)
        base_ops = count_ops(base)
        del base
        if device.type == 'cuda':
            torch.cuda.empty_cache()
        results[name] = dict(
            config=CASES[name][1 if args.tiny else 0], precision=cfg.train_precision,
            compile=cfg.get('compile', False),
            channels_last=bool(cfg.get('channels_last')), batch=cfg.bench_batch,
            crop=cfg.bench_crop, mmwsss_img_s=ours_ips, baseline=CASES[name][2],
            baseline_img_s=base_ips, ratio=ours_ips / base_ips, mmwsss_ops=ours_ops.total,
            baseline_ops=base_ops.total, mmwsss_gflop=ours_ops.flops / 1e9,
            baseline_gflop=base_ops.flops / 1e9, mmwsss_syncs=dict(ours_ops.syncs),
            baseline_syncs=dict(base_ops.syncs))
        r = results[name]
        print(f"{name:10s} mmwsss {r['precision']}{'+CL' if r['channels_last'] else ''}"
              f"{'+compile' if r['compile'] else ''} "
              f"batch {r['batch']} crop {r['crop']}: {ours_ips:8.2f} img/s | {r['baseline']}: "
              f"{base_ips:8.2f} img/s | ratio x{r['ratio']:.2f}")
        print(f"{'':10s} ops/step: mmwsss {r['mmwsss_ops']} (syncs {_fmt(r['mmwsss_syncs'])}) | "
              f"baseline {r['baseline_ops']} (syncs {_fmt(r['baseline_syncs'])})")
        print(f"{'':10s} GFLOP/step: mmwsss {r['mmwsss_gflop']:.1f} | baseline "
              f"{r['baseline_gflop']:.1f}")
        if args.top_ops:
            print(f'mmwsss, most frequent operators:\n{ours_ops.top(args.top_ops)}')
            print(f'baseline, most frequent operators:\n{base_ops.top(args.top_ops)}')
    if args.json:
        dump_json_atomic(dict(device=str(device), tiny=args.tiny, results=results), args.json)
    return results


if __name__ == '__main__':
    main()
