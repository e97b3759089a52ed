"""CAM inference throughput (multi-scale + flip): batched bf16 against one image at a time.

Writes ``--num-images`` JPEG images at VOC size (500×375 and 375×500) with image-level labels
into a temporary VOC layout, then runs the CAM baseline config's model (random weights, its
``test_cfg``: scales 1.0/0.5/1.5/2.0 + flip) over them through the real data pipeline and
``model.test_step``, to label maps on the host:

* reference: batch 1, fp32, NCHW (the per-image path, 4 loader workers);
* batched: ``--batch-size`` images padded to a common size by ``BatchedSegDataPreProcessor``, bf16 autocast,
  channels_last, loader workers decoding JPEGs while the GPU works (pinned memory).

It prints images/s of both, the ratio, the time 10,000 images would take, and how many label
pixels the two agree on.

    python benchmarks/cam_inference.py --tiny                                  # CPU (CI)
    python benchmarks/cam_inference.py --device cuda --num-images 2000 --batch-size 16
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import mmwsss  # noqa: E402,F401
from mmwsss.engine import to_channels_last  # noqa: E402
from mmwsss.models.builder import build_module  # noqa: E402
from mmwsss.registry import DATASETS  # noqa: E402
from mmwsss.utils.io import dump_json_atomic  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py'
TINY_CONFIG = 'configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--tiny', action='store_true', help='tiny config, 48×64 images (CPU, CI)')
    p.add_argument('--num-images', type=int, default=None, help='default 2000 (--tiny 8)')
    p.add_argument('--reference-images', type=int, default=None,
                   help='images the slow reference path runs on (default 200, --tiny 8)')
    p.add_argument('--batch-size', type=int, default=None, help='default 16 (--tiny 4)')
    p.add_argument('--workers', type=int, default=None, help='default 8 (--tiny 0)')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args()
    args.num_images = args.num_images or (8 if args.tiny else 2000)
    args.reference_images = min(args.num_images,
                                args.reference_images or (8 if args.tiny else 200))
    args.batch_size = args.batch_size or (4 if args.tiny else 16)
    args.workers = args.workers if args.workers is not None else (0 if args.tiny else 8)
    return args


def write_images(root: str, n: int, size, num_classes: int, seed: int = 0) -> None:
    """Smooth random JPEGs (every other one transposed) and their image-level labels."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'JPEGImages'))
    os.makedirs(osp.join(root, 'ImageSets/Segmentation'))
    labels, ids = {}, []
    for i in range(n):
        h, w = size if i % 2 == 0 else size[::-1]
        low = rng.integers(0, 256, (max(2, h // 32), max(2, w // 32), 3), dtype=np.uint8)
        img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
        name = f'{i:06d}'
        cv2.imwrite(osp.join(root, 'JPEGImages', name + '.jpg'), img)
        k = int(rng.integers(1, 4))
        labels[name] = sorted(int(c) for c in rng.choice(num_classes, k, replace=False) + 1)
        ids.append(name)
    with open(osp.join(root, 'ImageSets/Segmentation/bench.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f)


def build_model(cfg: Config, device, batched: bool, tiny: bool):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('init_cfg', None)
    model_cfg.data_preprocessor.test_cfg = dict(size_divisor=32)
    model_cfg.test_cfg.precision = 'bf16' if batched and device.type == 'cuda' else 'fp32'
    torch.manual_seed(0)
    model = build_module(model_cfg).to(device).eval()
    if batched and device.type == 'cuda':
        to_channels_last(model)
    return model


def loader(root: str, n: int, batch: int, workers: int, pin: bool) -> DataLoader:
    dataset = DATASETS.build(dict(
        type='VOCImageLevelDataset', data_root=root, data_prefix=dict(img_path='JPEGImages'),
        ann_file='ImageSets/Segmentation/bench.txt', img_labels_file='cls_labels.json',
        require_masks=False, indices=n,
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels'),
                  dict(type='PackCAMInputs')]))
    return DataLoader(dataset, batch_size=batch, num_workers=workers, pin_memory=pin,
                      collate_fn=pseudo_collate, persistent_workers=False,
                      prefetch_factor=4 if workers else None)


@torch.no_grad()
def run(model, data: DataLoader, device) -> tuple:
    """(images/s, label maps) over the whole loader, first batch excluded as warm-up."""
    labels, n, t0 = [], 0, None
    for i, batch in enumerate(data):
        for ds in model.test_step(batch):
            labels.append(ds.pred_sem_seg.data[0].to(torch.uint8).cpu().numpy())
        if i == 0:
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
        else:
            n += len(batch['inputs'])
    return n / (time.perf_counter() - t0), labels


def main() -> dict:
    args = parse_args()
    init_default_scope('mmwsss')
    device = torch.device(args.device)
    cfg = Config.fromfile(osp.join(ROOT, TINY_CONFIG if args.tiny else CONFIG))
    # as make_pseudo_labels sets it (off in the configs: real datasets have many image sizes)
    torch.backends.cudnn.benchmark = bool(cfg.env_cfg.get('cudnn_benchmark', False))
    size = (48, 64) if args.tiny else (375, 500)
    k = cfg.model.head.num_classes
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        write_images(root, args.num_images, size, k)
        write_s = time.perf_counter() - t0
        ref_model = build_model(cfg, device, False, args.tiny)
        ref_ips, ref_labels = run(ref_model, loader(root, args.reference_images, 1,
                                                    min(4, args.workers), False), device)
        del ref_model
        model = build_model(cfg, device, True, args.tiny)
        ips, labels = run(model, loader(root, args.num_images, args.batch_size, args.workers,
                                        device.type == 'cuda'), device)
    m = len(ref_labels)
    agree = sum(int((a == b).sum()) for a, b in zip(labels[:m], ref_labels))
    agree /= sum(a.size for a in ref_labels)
    res = dict(device=torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
               config=TINY_CONFIG if args.tiny else CONFIG, image_size=size,
               scales=list(cfg.model.test_cfg.scales), flip=bool(cfg.model.test_cfg.flip),
               num_images=args.num_images, batch_size=args.batch_size, workers=args.workers,
               reference_img_s=ref_ips, batched_img_s=ips, ratio=ips / ref_ips,
               minutes_per_10k=10000 / ips / 60, label_agreement=agree,
               jpeg_write_s=write_s)
    print(f"device {res['device']} | {res['config']} | scales {res['scales']} flip "
          f"{res['flip']} | {args.num_images} images {size[1]}x{size[0]} | random weights")
    print(f'reference (batch 1, fp32):            {ref_ips:8.2f} images/s')
    mode = 'bf16, channels_last' if device.type == 'cuda' else 'fp32'
    print(f'batched ({args.batch_size}, {mode}, '
          f'{args.workers} workers): {ips:8.2f} images/s  x{res["ratio"]:.2f}')
    print(f'10,000 images would take {res["minutes_per_10k"]:.2f} min; label pixels equal '
          f'batched vs reference: {100 * agree:.2f}%')
    if args.json:
        dump_json_atomic(res, args.json)
    return res


if __name__ == '__main__':
    main()
