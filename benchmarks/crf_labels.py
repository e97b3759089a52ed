"""Pseudo-labels with a dense CRF (``make_pseudo_labels.py --crf``): CRFs on worker processes
against one image at a time in the label run's own process.

Writes ``--num-images`` JPEGs at VOC size (500×375 and 375×500) with image-level labels into a
temporary VOC layout and runs the real label path, ``generate_pseudo_labels`` with the CAM
baseline config's ``CAMLabelGenerator`` (random weights saved as a checkpoint, its
multi-scale + flip ``test_cfg``) and ``crf=dict()`` (SEAM's CRF), twice in one run:

* serial: ``crf_workers=0``, each CRF in the label run's process, as before ``CRFPool``
  (pydensecrf holds the GIL for its whole inference, about 0.5 s per VOC image);
* pool: ``crf_workers`` processes (default: this machine's cores), while the model goes on.

It prints images/s of both, the ratio, the hours VOC train_aug (10,582 images) would take,
and whether the two label folders are equal pixel for pixel. Before that it times the CRF stage
alone on the same images (smooth random CAMs of 1-3 classes): one image at a time against
``CRFPool``, and the pool's start (a fork server importing mmwsss once), which a long run
pays once.

    python benchmarks/crf_labels.py --tiny                       # CPU (CI): tiny model
    python benchmarks/crf_labels.py --num-images 64              # CPU, the r50 config
    python benchmarks/crf_labels.py --device cuda --num-images 400
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from cam_inference import CONFIG, TINY_CONFIG, write_images  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmwsss.apis import generate_pseudo_labels  # noqa: E402
from mmwsss.models.builder import build_module  # noqa: E402
from mmwsss.utils.crf import CRFPool, crf_refine_cams, default_crf_workers  # noqa: E402
from mmwsss.utils.io import dump_json_atomic, load_label_png  # noqa: E402

VOC_TRAIN_AUG = 10582


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--tiny', action='store_true',
                   help="the tiny synthetic config's model (CPU, CI)")
    p.add_argument('--num-images', type=int, default=None, help='default 200 (--tiny 8)')
    p.add_argument('--crf-workers', type=int, default=None,
                   help='processes of the pool run (default: the cores of this machine)')
    p.add_argument('--loader-workers', type=int, default=2)
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args()
    args.num_images = args.num_images or (8 if args.tiny else 200)
    args.crf_workers = args.crf_workers or default_crf_workers()
    return args


def label_config(args, root: str, checkpoint: str) -> Config:
    """The CAM config with its label split moved to the benchmark images."""
    cfg = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                   TINY_CONFIG if args.tiny else CONFIG))
    cfg.model.backbone.pop('init_cfg', None)
    cfg.pseudo_label_dataloader.dataset.update(
        data_root=root, data_prefix=dict(img_path='JPEGImages'), require_masks=False,
        ann_file='ImageSets/Segmentation/bench.txt', img_labels_file='cls_labels.json')
    cfg.label_generator.update(checkpoint=checkpoint, crf=dict(), device=args.device)
    return cfg


def crf_stage(root: str, args) -> dict:
    """Seconds per image of the CRF alone: serial, and on the pool once it runs."""
    import cv2
    rng = np.random.default_rng(1)
    jobs = []
    for name in sorted(os.listdir(osp.join(root, 'JPEGImages')))[:args.num_images]:
        path = osp.join(root, 'JPEGImages', name)
        h, w = cv2.imread(path).shape[:2]
        cams = np.zeros((20, h, w), np.float32)
        k = int(rng.integers(1, 4))
        low = rng.random((12, 16, k)).astype(np.float32)
        cams[rng.choice(20, k, replace=False)] = cv2.resize(low, (w, h)).reshape(
            h, w, k).transpose(2, 0, 1)
        jobs.append((path, cams))
    t0 = time.perf_counter()
    serial = [crf_refine_cams(*job) for job in jobs]
    serial_s = (time.perf_counter() - t0) / len(jobs)
    t0 = time.perf_counter()
    pool = CRFPool(args.crf_workers)
    try:
        pool.submit(*jobs[0]).result()
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pooled = [f.result() for f in [pool.submit(*job) for job in jobs]]
        pool_s = (time.perf_counter() - t0) / len(jobs)
    finally:
        pool.close()
    assert all(np.array_equal(a, b) for a, b in zip(serial, pooled))
    return dict(serial_s_per_img=serial_s, pool_s_per_img=pool_s, pool_start_s=start_s,
                ratio=serial_s / pool_s)


def timed_run(cfg: Config, out: str, crf_workers: int, args) -> float:
    """Images/s of one label run, from the first image to the last label on disk."""
    gen = dict(cfg.label_generator, crf_workers=crf_workers)
    t0 = time.perf_counter()
    report = generate_pseudo_labels(cfg, out, gen, batch_size=1,
                                    num_workers=args.loader_workers)
    seconds = time.perf_counter() - t0
    if report['written'] != args.num_images:
        raise RuntimeError(f'{out}: {report["failed"]} labels failed: {report["failures"][:3]}')
    return args.num_images / seconds


def main() -> dict:
    args = parse_args()
    init_default_scope('mmwsss')
    with tempfile.TemporaryDirectory() as root:
        probe = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                         TINY_CONFIG if args.tiny else CONFIG))
        write_images(root, args.num_images, (375, 500), probe.model.head.num_classes)
        checkpoint = osp.join(root, 'random.pth')
        probe.model.backbone.pop('init_cfg', None)
        torch.manual_seed(0)
        torch.save(dict(state_dict=build_module(probe.model).state_dict()), checkpoint)
        stage = crf_stage(root, args)
        cfg = label_config(args, root, checkpoint)
        serial = timed_run(cfg, osp.join(root, 'serial'), 0, args)
        pooled = timed_run(cfg, osp.join(root, 'pool'), args.crf_workers, args)
        names = sorted(f for f in os.listdir(osp.join(root, 'serial')) if f.endswith('.png'))
        equal = sum(int(np.array_equal(load_label_png(osp.join(root, 'serial', n)),
                                       load_label_png(osp.join(root, 'pool', n))))
                    for n in names)
    res = dict(device=torch.cuda.get_device_name() if args.device == 'cuda' else 'cpu',
               cores=os.cpu_count(), config=TINY_CONFIG if args.tiny else CONFIG,
               num_images=args.num_images, crf_workers=args.crf_workers,
               serial_img_s=serial, pool_img_s=pooled, ratio=pooled / serial,
               hours_voc_train_aug_serial=VOC_TRAIN_AUG / serial / 3600,
               hours_voc_train_aug_pool=VOC_TRAIN_AUG / pooled / 3600,
               labels_equal=equal / len(names), crf_stage=stage)
    print(f"device {res['device']} ({res['cores']} cores) | {res['config']} | "
          f'{args.num_images} images 500x375 | random weights | CRF as SEAM')
    print(f"CRF alone: {1000 * stage['serial_s_per_img']:.0f} ms/image serial, "
          f"{1000 * stage['pool_s_per_img']:.0f} on {args.crf_workers} processes "
          f"(x{stage['ratio']:.2f}; the pool starts in {stage['pool_start_s']:.1f} s, once)")
    print('label runs (CAMs + CRF + PNGs):')
    print(f'serial (crf_workers=0):           {serial:7.2f} images/s  '
          f"VOC train_aug {res['hours_voc_train_aug_serial']:.2f} h")
    print(f'pool (crf_workers={args.crf_workers:2d}):           {pooled:7.2f} images/s  '
          f"VOC train_aug {res['hours_voc_train_aug_pool']:.2f} h  x{res['ratio']:.2f}")
    print(f"labels equal pixel for pixel: {100 * res['labels_equal']:.1f}% of images")
    if args.json:
        dump_json_atomic(res, args.json)
    return res


if __name__ == '__main__':
    main()
