"""Training data pipelines: images/s one loader worker prepares, against a plain pipeline.

The training-step benchmark (``train_throughput.py``) feeds the GPU ready-made tensors. In real
training the DataLoader workers must decode and augment as many images per second as the step
takes, or the GPU waits. This script writes ``--num-images`` textured JPEGs at VOC size (500×375
and 375×500, about the file size of VOC photos) with masks and image-level labels into a
temporary VOC layout, then, for the GPU training configs, times one process with one torch
thread (what a DataLoader worker has):

* **mmwsss**: the config's ``train_dataloader.dataset`` with its pipeline (mmcv / mmseg /
  mmwsss transforms), as the Runner's workers run it;
* **baseline**: the official repositories' pipelines, written here. SEAM: ``train_SEAM.py``
  (PIL: random long side 448-768, flip, torchvision ``ColorJitter``, normalisation on the
  CPU, random crop, HWC to CHW). CAM: IRN's ``train_cam`` (the same without colour jitter,
  long side 320-640; the mmwsss config adds mmseg's ``PhotoMetricDistortion``). DeepLab-v2:
  OpenCV + numpy (random rescale 0.5-1.5, pad, random crop, flip; the mmwsss config's crop
  also retries crops where one class covers more than 75%, mmseg's ``cat_max_ratio``).

It prints images/s per worker, the ratio, and how many workers keep up with a training step
of ``--step-rate`` images/s (default: the H100 figures in docs/benchmarks.md). ``--loader``
also times the config's DataLoader with ``--workers`` workers, which means something only on
a machine with that many free cores.

    python benchmarks/data_throughput.py --tiny                 # CPU, CI: tiny images
    python benchmarks/data_throughput.py --num-images 200 [--loader --workers 8]
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import sys
import tempfile
import time
from typing import Callable, Dict

import cv2
import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmwsss  # noqa: E402,F401
from mmwsss.registry import DATASETS  # noqa: E402
from mmwsss.utils.io import dump_json_atomic, save_label_png  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# case: (config, training-step images/s on the H100, docs/benchmarks.md of 2026-11-23)
CASES = {
    'cam': ('configs/cam/cam_r50_1xb16-5e_voc12aug-512x512.py', 552.3),
    'seam': ('configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py', 97.6),
    'deeplabv2': ('configs/deeplabv2/deeplabv2_r101_1xb10-20k_voc12aug-pseudo-321x321.py', 188.6),
}
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--tiny', action='store_true', help='48×64 images, few of them (CPU, CI)')
    p.add_argument('--cases', nargs='+', choices=list(CASES), default=list(CASES))
    p.add_argument('--num-images', type=int, default=None, help='default 200 (--tiny 6)')
    p.add_argument('--passes', type=int, default=None,
                   help='timed passes over the images after one warm-up pass (default 2)')
    p.add_argument('--step-rate', nargs='+', default=[], metavar='CASE=IMG_S',
                   help='training-step images/s to keep up with (default: H100 figures)')
    p.add_argument('--loader', action='store_true',
                   help="also time the config's DataLoader (batches, workers)")
    p.add_argument('--workers', type=int, default=None, help="--loader workers (the config's)")
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args()
    args.num_images = args.num_images or (6 if args.tiny else 200)
    args.passes = args.passes or (1 if args.tiny else 2)
    rates = {k: v[1] for k, v in CASES.items()}
    for item in args.step_rate:
        case, _, value = item.partition('=')
        if case not in CASES or not value:
            p.error(f'--step-rate {item!r}: use CASE=IMG_S with CASE one of {list(CASES)}')
        rates[case] = float(value)
    args.step_rate = rates
    return args


# ---------------------------------------------------------------- data
def write_voc_layout(root: str, n: int, size, num_classes: int = 20, seed: int = 0) -> None:
    """``n`` JPEGs (every other one transposed) with a palette mask of a few class blobs each,
    ``cls_labels.json`` and ``train_aug.txt``. The images are smooth colour fields plus
    noise, so their JPEG entropy (and decode time) is near that of photos."""
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    labels, ids = {}, []
    for i in range(n):
        h, w = size if i % 2 == 0 else size[::-1]
        low = rng.integers(0, 256, (max(2, h // 24), max(2, w // 24), 3), dtype=np.uint8)
        img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        classes = sorted(int(c) for c in rng.choice(num_classes, int(rng.integers(1, 4)),
                                                     replace=False) + 1)
        for c in classes:
            cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
            cv2.ellipse(mask, (cx, cy), (w // 5, h // 5), 0, 0, 360, c, -1)
        name = f'{i:06d}'
        cv2.imwrite(osp.join(root, 'JPEGImages', name + '.jpg'), img,
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
        save_label_png(mask, osp.join(root, 'SegmentationClassAug', name + '.png'))
        labels[name] = sorted(set(np.unique(mask).tolist()) - {0}) or classes[:1]
        ids.append(name)
    with open(osp.join(root, 'ImageSets/Segmentation/train_aug.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f)


def dataset_cfg(cfg: Config, root: str) -> dict:
    """The config's training set on ``root``, masks from ``SegmentationClassAug`` (a
    pseudo-label config's label folder would be empty here)."""
    ds = Config(dict(cfg.train_dataloader.dataset)).to_dict()
    ds.update(data_root=root, ann_file='ImageSets/Segmentation/train_aug.txt')
    if 'seg_map_path' in ds.get('data_prefix', {}):
        ds['data_prefix'] = dict(ds['data_prefix'], seg_map_path='SegmentationClassAug')
    return ds


def crop_size(cfg: Config) -> int:
    return next(t['crop_size'][0] for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'RandomCrop')


# ---------------------------------------------------------------- baselines
def plain_cls_sample(long_range, crop: int, jitter=None) -> Callable[[str], dict]:
    """SEAM's ``train_SEAM.py`` transforms (IRN's without ``jitter``): PIL image, random long
    side (bicubic), flip, torchvision ``ColorJitter``, normalised float array, random crop
    (zero padding), CHW tensor."""
    from PIL import Image
    from torchvision import transforms

    colour = transforms.ColorJitter(*jitter) if jitter else (lambda img: img)

    def sample(path: str) -> dict:
        img = Image.open(path).convert('RGB')
        target = random.randint(*long_range)
        w, h = img.size
        scale = target / max(w, h)
        img = img.resize((round(w * scale), round(h * scale)), resample=Image.BICUBIC)
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img = colour(img)
        arr = (np.asarray(img, np.float32) - MEAN) / STD
        out = np.zeros((crop, crop, 3), np.float32)
        h, w = arr.shape[:2]
        y0, x0 = random.randint(0, max(0, h - crop)), random.randint(0, max(0, w - crop))
        patch = arr[y0:y0 + crop, x0:x0 + crop]
        out[:patch.shape[0], :patch.shape[1]] = patch
        return dict(inputs=torch.from_numpy(out.transpose(2, 0, 1).copy()))
    return sample


def plain_seg_sample(scale_range, crop: int) -> Callable[[str], dict]:
    """A plain DeepLab-v2 training sample (OpenCV + numpy): random rescale of image and mask,
    pad to the crop (mean colour / ignore), random crop, flip, CHW tensors."""

    def sample(path: str) -> dict:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        mask_path = path.replace('JPEGImages', 'SegmentationClassAug')[:-4] + '.png'
        from PIL import Image
        mask = np.asarray(Image.open(mask_path))
        s = random.uniform(*scale_range)
        h, w = mask.shape
        size = (round(w * s), round(h * s))
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        ph, pw = max(crop - size[1], 0), max(crop - size[0], 0)
        if ph or pw:
            img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            mask = cv2.copyMakeBorder(mask, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=255)
        h, w = mask.shape
        y0, x0 = random.randint(0, h - crop), random.randint(0, w - crop)
        img, mask = img[y0:y0 + crop, x0:x0 + crop], mask[y0:y0 + crop, x0:x0 + crop]
        if random.random() < 0.5:
            img, mask = img[:, ::-1], mask[:, ::-1]
        return dict(inputs=torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
                    labels=torch.from_numpy(np.ascontiguousarray(mask)).long())
    return sample


def baseline_sample(case: str, crop: int, tiny: bool) -> Callable[[str], dict]:
    if case == 'deeplabv2':
        return plain_seg_sample((0.5, 1.5), crop)
    # long-side ranges: IRN 320-640, SEAM 448-768 (as the configs' RandomResize)
    long_range = (crop // 2, crop) if tiny else ((320, 640) if case == 'cam' else (448, 768))
    return plain_cls_sample(long_range, crop, (0.3, 0.3, 0.3, 0.1) if case == 'seam' else None)


# ---------------------------------------------------------------- timing
def per_worker_rate(get: Callable[[int], dict], n: int, passes: int) -> float:
    """Images/s of ``get(i)`` over ``passes`` passes of ``n`` items, after one warm-up pass,
    with one torch thread (as in a DataLoader worker)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in range(n):
            get(i)
        t0 = time.perf_counter()
        for _ in range(passes):
            for i in range(n):
                get(i)
        return passes * n / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)


def loader_rate(cfg: Config, ds_cfg: dict, workers: int, batches: int) -> float:
    """Images/s of the config's DataLoader (its batch size, sampler and collate) with
    ``workers`` workers, after the first batch."""
    from mmengine.runner import Runner
    loader_cfg = Config(dict(cfg.train_dataloader)).to_dict()
    loader_cfg.update(dataset=ds_cfg, num_workers=workers,
                      persistent_workers=workers > 0 and loader_cfg.get('persistent_workers'))
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    it = iter(loader)
    next(it)
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        n += len(next(it)['inputs'])
    return n / (time.perf_counter() - t0)


def main() -> Dict[str, dict]:
    args = parse_args()
    init_default_scope('mmwsss')
    random.seed(0)
    np.random.seed(0)  # mmcv transforms draw from numpy
    size = (48, 64) if args.tiny else (375, 500)
    results = {}
    with tempfile.TemporaryDirectory() as root:
        write_voc_layout(root, args.num_images, size)
        jpeg_kb = np.mean([osp.getsize(osp.join(root, 'JPEGImages', f)) for f in
                           os.listdir(osp.join(root, 'JPEGImages'))]) / 1024
        print(f'{args.num_images} JPEGs of {size[1]}x{size[0]} / {size[0]}x{size[1]}, '
              f'{jpeg_kb:.0f} KB on average (VOC: about 100 KB); one process, one torch thread')
        for case in args.cases:
            cfg = Config.fromfile(osp.join(ROOT, CASES[case][0]))
            crop = crop_size(cfg)
            if args.tiny:  # tiny images: a crop that fits them
                crop = 32
                for t in cfg.train_dataloader.dataset.pipeline:
                    if t['type'] == 'RandomCrop':
                        t['crop_size'] = (crop, crop)
                    if t['type'] == 'RandomResize':
                        t['scale'] = (size[1], size[1])
            ds_cfg = dataset_cfg(cfg, root)
            dataset = DATASETS.build(ds_cfg)
            paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
            ours_sample, plain = dataset[0], baseline_sample(case, crop, args.tiny)
            plain_sample = plain(paths[0])
            ours = per_worker_rate(lambda i: dataset[i], len(dataset), args.passes)
            base = per_worker_rate(lambda i: plain(paths[i]), len(paths), args.passes)
            step = args.step_rate[case]
            r = dict(config=CASES[case][0], crop=crop,
                     mmwsss_shape=list(ours_sample['inputs'].shape),
                     baseline_shape=list(plain_sample['inputs'].shape),
                     mmwsss_img_s_per_worker=ours, baseline_img_s_per_worker=base,
                     ratio=ours / base, step_img_s=step,
                     workers_needed=math.ceil(step / ours),
                     config_workers=cfg.train_dataloader.num_workers)
            print(f"{case:10s} crop {crop}: mmwsss {ours:7.1f} img/s per worker | baseline "
                  f"{base:7.1f} | ratio x{r['ratio']:.2f} | a {step:.0f} img/s step needs "
                  f"{r['workers_needed']} workers (config: {r['config_workers']})")
            if args.loader:
                workers = cfg.train_dataloader.num_workers if args.workers is None \
                    else args.workers
                r['loader_workers'] = workers
                r['loader_img_s'] = loader_rate(cfg, ds_cfg, workers, 2 if args.tiny else 20)
                print(f"{'':10s} DataLoader, {workers} workers: {r['loader_img_s']:.1f} img/s")
            results[case] = r
    if args.json:
        dump_json_atomic(dict(tiny=args.tiny, num_images=args.num_images, results=results),
                         args.json)
    return results


if __name__ == '__main__':
    main()
