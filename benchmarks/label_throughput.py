"""Grounded-SAM label throughput: the reference per-image path against mmwsss's batched path.

Both paths use the same models on the same device and the same prompts / thresholds:

* reference: as weixuansun/wsss_sam runs it, one image at a time: Grounding DINO on the image,
  then ``segment_anything.SamPredictor`` (``set_image`` + ``predict_torch``, fp32), masks
  painted in detection order;
* batched: ``GroundedSAMLabelGenerator.generate`` on batches (Grounding DINO batched, one SAM
  image-encoder pass per batch, all boxes of the batch decoded together), in fp32 and with
  SAM under bf16 autocast; in bf16 also with the SAM encoder after detection instead of on a
  second CUDA stream during it (``overlap_sam_encoder=False``; on CPU both are serial).

It prints images/s of each path, the speed-up, and how many label pixels bf16 and fp32 agree
on. Random weights are fine for timing (give real checkpoints for meaningful agreement):

    python benchmarks/label_throughput.py --tiny                  # CPU, tiny models (CI)
    python benchmarks/label_throughput.py --device cuda --sam-type vit_h --num-images 64 \\
        --batch-size 8 [--sam-checkpoint ... --detector-checkpoint ... --text-encoder ...]
"""
import argparse
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

from mmwsss.datasets.samplers import BATCH_GROUPINGS, batches_by_size  # noqa: E402
from mmwsss.datasets.voc_image_level import VOC_CLASSES  # noqa: E402
from mmwsss.label_generators.grounded_sam import GroundedSAMLabelGenerator  # noqa: E402
from mmwsss.label_generators.grounding_dino import (  # noqa: E402
    TINY_GROUNDING_DINO, build_grounding_dino)
from mmwsss.label_generators.prompts import build_caption, build_class_phrases  # noqa: E402
from mmwsss.models.sam import build_sam, build_sam_model  # noqa: E402
from mmwsss.utils.io import dump_json_atomic  # noqa: E402
from mmwsss.utils.op_count import OpCounter  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
GEN_CFG = osp.join(ROOT, 'configs/_base_/models/grounded-sam_swin-t-vit-h.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--tiny', action='store_true',
                   help='tiny random Grounding DINO and SAM, small images (CPU, CI)')
    p.add_argument('--sam-type', default='vit_h', choices=['vit_h', 'vit_l', 'vit_b', 'tiny'])
    p.add_argument('--num-images', type=int, default=None, help='default 32 (8 with --tiny)')
    p.add_argument('--batch-size', type=int, default=None, help='default 8 (4 with --tiny)')
    p.add_argument('--image-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                   help='default 375 500, VOC-like, every other image transposed (--tiny: 64 64)')
    p.add_argument('--detector-scale', type=int, nargs=2, default=None,
                   help='Grounding DINO input scale (default 800 1333; --tiny 64 64)')
    p.add_argument('--sam-checkpoint', help='real SAM weights (else random)')
    p.add_argument('--detector-checkpoint', help='real Grounding DINO weights (else random)')
    p.add_argument('--text-encoder', help='local bert-base-uncased folder (else a random BERT)')
    p.add_argument('--batch-grouping', default='orientation', choices=BATCH_GROUPINGS,
                   help="batches as make_pseudo_labels.py forms them: 'orientation' (the "
                        "generator's default; landscape and portrait apart) or 'size'")
    p.add_argument('--box-threshold', type=float, default=0.3)
    p.add_argument('--max-detections', type=int, default=100)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args()
    if args.tiny:
        args.sam_type = 'tiny'
    args.num_images = args.num_images or (8 if args.tiny else 32)
    args.batch_size = args.batch_size or (4 if args.tiny else 8)
    args.image_size = args.image_size or ([64, 64] if args.tiny else [375, 500])
    args.detector_scale = args.detector_scale or ([64, 64] if args.tiny else [800, 1333])
    return args


def random_bert(folder: str, phrases, tiny: bool) -> str:
    """A BERT with random weights whose vocabulary holds the prompt words."""
    from transformers import BertConfig, BertModel, BertTokenizerFast
    words = sorted({w for ps in phrases.values() for p in ps for w in p.split()})
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', '?'] + words
    with open(osp.join(folder, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=64) if tiny else {}
    BertModel(BertConfig(vocab_size=len(vocab), **size)).save_pretrained(folder)
    BertTokenizerFast(vocab_file=osp.join(folder, 'vocab.txt')).save_pretrained(folder)
    return folder


def build_models(args, phrases, tmp: str):
    cfg = Config.fromfile(GEN_CFG)
    if args.tiny:
        cfg.merge_from_dict({'label_generator': dict(detector=TINY_GROUNDING_DINO)})
    text_encoder = args.text_encoder or random_bert(tmp, phrases, args.tiny)
    detector = build_grounding_dino(cfg.label_generator.detector.to_dict(),
                                    args.detector_checkpoint, text_encoder, args.device)
    if args.sam_checkpoint:
        sam = build_sam(args.sam_type, args.sam_checkpoint, args.device)
    else:
        sam = build_sam_model(args.sam_type).to(args.device)
    return detector, sam


def make_batches(args, num_classes: int):
    """Smooth random images (BGR uint8 C×H×W, as the data loader gives them) with 1-3
    random image-level classes each, every other one portrait; batched as
    ``tools/make_pseudo_labels.py`` batches them for the generator (its ``batch_grouping``)."""
    g = torch.Generator().manual_seed(args.seed)
    h, w = args.image_size
    images, samples = [], []
    for i in range(args.num_images):
        size = (h, w) if i % 2 == 0 else (w, h)
        low = torch.rand(3, max(2, size[0] // 32), max(2, size[1] // 32), generator=g) * 255
        img = torch.nn.functional.interpolate(low[None], size, mode='bicubic',
                                              align_corners=False)[0]
        img = (img + torch.randn(img.shape, generator=g) * 8).clamp(0, 255).to(torch.uint8)
        k = int(torch.randint(1, 4, (1, ), generator=g))
        labels = torch.randperm(num_classes - 1, generator=g)[:k] + 1
        ds = SegDataSample(metainfo=dict(img_path=f'bench_{i:04d}.jpg', ori_shape=size,
                                         img_shape=size))
        ds.set_field(labels.sort().values, 'gt_img_labels')
        images.append(img)
        samples.append(ds)
    groups = batches_by_size([tuple(img.shape[:0:-1]) for img in images], range(len(images)),
                             args.batch_size, args.batch_grouping)
    return [dict(inputs=[images[i] for i in b], data_samples=[samples[i] for i in b])
            for b in groups]


@torch.no_grad()
def reference_labels(gen: GroundedSAMLabelGenerator, sam, batch) -> list:
    """The reference path: one image at a time, ``SamPredictor`` in fp32, masks painted in
    detection order (the last wins), all 255 when nothing is detected."""
    from segment_anything import SamPredictor
    predictor = SamPredictor(sam)
    out = []
    for img, ds in zip(batch['inputs'], batch['data_samples']):
        h, w = img.shape[-2:]
        caption, spans, classes = build_caption(gen.present_classes(ds), gen.class_phrases)
        if not caption:
            out.append(np.zeros((h, w), np.uint8))
            continue
        tokens = gen._phrase_tokens(caption, spans)
        boxes, _, phrases = gen.detect([img.to(gen.device)], [caption], [tokens])[0]
        if not len(boxes):
            out.append(np.full((h, w), 255, np.uint8))
            continue
        rgb = img.flip(0).permute(1, 2, 0).contiguous().numpy()
        predictor.set_image(rgb)
        masks, _, _ = predictor.predict_torch(
            None, None, boxes=predictor.transform.apply_boxes_torch(boxes, (h, w)),
            multimask_output=False)
        label = torch.zeros((h, w), dtype=torch.uint8, device=masks.device)
        for m, c in zip(masks[:, 0], torch.as_tensor(classes, device=phrases.device)[phrases]):
            label[m] = int(c)
        out.append(label.cpu().numpy())
    return out


def timed(fn, batches, device) -> tuple:
    """(images/s, labels) of ``fn`` over ``batches``, after one warm-up batch."""
    fn(batches[0])
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    labels, n, t0 = [], 0, time.perf_counter()
    for b in batches:
        labels += fn(b)
        n += len(b['inputs'])
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return n / (time.perf_counter() - t0), labels


def stage_times(gen: GroundedSAMLabelGenerator, batches, device) -> dict:
    """Milliseconds per image spent in detection, SAM encoding, mask decoding and mask
    up-sampling (each stage synchronised, so the sum exceeds the pipelined time a little)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    spent = dict(detect=0.0, sam_encode=0.0, sam_decode=0.0, sam_upsample=0.0)
    wrapped = dict(detect=(gen, 'detect'), sam_encode=(gen.sam, 'encode_preprocessed'),
                   sam_decode=(gen.sam, 'decode'), sam_upsample=(gen.sam, 'postprocess'))

    def timer(name, fn):
        def run(*a, **k):
            sync()
            t0 = time.perf_counter()
            out = fn(*a, **k)
            sync()
            spent[name] += time.perf_counter() - t0
            return out
        return run

    for name, (obj, attr) in wrapped.items():
        setattr(obj, attr, timer(name, getattr(obj, attr)))
    sync()
    t0 = time.perf_counter()
    try:
        for b in batches:
            gen.generate(b)
    finally:
        for obj, attr in wrapped.values():
            delattr(obj, attr)
    sync()
    n = sum(len(b['inputs']) for b in batches)
    spent['total'] = time.perf_counter() - t0
    return {k: 1000 * v / n for k, v in spent.items()}


def agreement(a: list, b: list) -> float:
    eq = sum(int((x == y).sum()) for x, y in zip(a, b))
    return eq / sum(x.size for x in a)


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    phrases = build_class_phrases(VOC_CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        detector, sam = build_models(args, phrases, tmp)
    common = dict(classes=VOC_CLASSES, device=args.device, box_threshold=args.box_threshold,
                  detector_scale=tuple(args.detector_scale), fallback='ignore',
                  max_detections=args.max_detections)
    fp32 = GroundedSAMLabelGenerator.from_models(detector, sam, sam_precision='fp32',
                                                 detector_precision='fp32', **common)
    bf16 = GroundedSAMLabelGenerator.from_models(detector, sam, sam_precision='bf16',
                                                 detector_precision='bf16',
                                                 overlap_sam_encoder='auto', **common)
    bf16_serial = GroundedSAMLabelGenerator.from_models(
        detector, sam, sam_precision='bf16', detector_precision='bf16',
        overlap_sam_encoder=False, **common)
    batches = make_batches(args, len(VOC_CLASSES))
    ref_ips, ref_labels = timed(lambda b: reference_labels(fp32, sam, b), batches, device)
    boxes = []

    def batched_fp32(b):
        labels = fp32.generate(b)
        boxes.extend(len(d['boxes']) if d else 0 for d in fp32.last_detections)
        return labels

    fp32_ips, fp32_labels = timed(batched_fp32, batches, device)
    bf16_ips, bf16_labels = timed(bf16.generate, batches, device)
    serial_ips, serial_labels = timed(bf16_serial.generate, batches, device)
    stages = stage_times(bf16_serial, batches, device)
    with OpCounter() as ops:  # operators that make the host wait for the device
        bf16_serial.generate(batches[0])
    res = dict(
        device=str(device), device_name=(torch.cuda.get_device_name(device)
                                         if device.type == 'cuda' else 'cpu'),
        sam_type=args.sam_type, detector='tiny' if args.tiny else 'swin-t',
        random_weights=dict(sam=not args.sam_checkpoint, detector=not args.detector_checkpoint),
        num_images=args.num_images, batch_size=args.batch_size, image_size=args.image_size,
        batch_grouping=args.batch_grouping,
        boxes_per_image=float(np.mean(boxes[-args.num_images:])) if boxes else 0.0,
        reference_img_s=ref_ips, batched_fp32_img_s=fp32_ips, batched_bf16_img_s=bf16_ips,
        overlap_sam_encoder=bf16.overlap_sam_encoder, batched_bf16_serial_img_s=serial_ips,
        speedup_fp32=fp32_ips / ref_ips, speedup_bf16=bf16_ips / ref_ips,
        speedup_bf16_serial=serial_ips / ref_ips,
        agreement_overlap_vs_serial=agreement(bf16_labels, serial_labels),
        agreement_bf16_vs_fp32=agreement(bf16_labels, fp32_labels),
        agreement_fp32_vs_reference=agreement(fp32_labels, ref_labels),
        bf16_stage_ms_per_image=stages, host_syncs_first_batch=sum(ops.syncs.values()),
        host_sync_sites=dict(ops.sync_sites.most_common(8)))
    print(f"device {res['device_name']} | SAM {args.sam_type} | Grounding DINO {res['detector']}"
          f" | {args.num_images} images {args.image_size[0]}x{args.image_size[1]} | batch "
          f"{args.batch_size} ({args.batch_grouping}) | {res['boxes_per_image']:.1f} boxes/image"
          + (' | random weights' if not (args.sam_checkpoint and args.detector_checkpoint)
             else ''))
    print(f'reference (per image, SamPredictor fp32): {ref_ips:8.2f} images/s')
    print(f'batched, fp32:                            {fp32_ips:8.2f} images/s  '
          f'x{res["speedup_fp32"]:.2f}')
    print(f'batched, bf16 autocast:                   {bf16_ips:8.2f} images/s  '
          f'x{res["speedup_bf16"]:.2f}' + ('  (SAM encoder on a second stream)'
                                           if bf16.overlap_sam_encoder else ''))
    print(f'batched, bf16, encoder after detection:   {serial_ips:8.2f} images/s  '
          f'x{res["speedup_bf16_serial"]:.2f}  (labels equal: '
          f'{100 * res["agreement_overlap_vs_serial"]:.2f}%)')
    print('batched bf16, ms/image by stage: ' + ', '.join(
        f'{k} {v:.1f}' for k, v in stages.items()))
    print(f'host syncs in the first batch (bf16, serial): {res["host_syncs_first_batch"]}, '
          'most from: ' + '; '.join(f'{n}x {site.split("site-packages/")[-1]}'
                                    for site, n in ops.sync_sites.most_common(3)))
    print(f'label pixels equal, bf16 vs fp32:         {100 * res["agreement_bf16_vs_fp32"]:.2f}%')
    print(f'label pixels equal, batched vs reference: '
          f'{100 * res["agreement_fp32_vs_reference"]:.2f}% (merge rule and resize differ)')
    if args.json:
        dump_json_atomic(res, args.json)
    return res


if __name__ == '__main__':
    main()
