"""A deterministic synthetic WSSS dataset in the VOC layout.

Five object classes, each with its own shape, colour family and texture, drawn 1 to 3 at a
time (overlaps allowed, later objects occlude earlier ones) on a cluttered background of
random rectangles, lines and noise that also uses the objects' colours. Masks are exact.
A CAM has to find the class-specific shape/texture cues; like on real data it tends to
fire on the most discriminative parts (texture centres) and to blur object edges.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

from mmwsss.registry import DATASETS
from .voc_image_level import VOCImageLevelDataset, image_labels_from_mask, voc_palette

SYNTHETIC_CLASSES = ('background', 'disk', 'square', 'triangle', 'ring', 'cross')
# Base colours (RGB) of each class; each object jitters its colour around this.
_CLASS_RGB = {1: (200, 60, 50), 2: (50, 90, 200), 3: (60, 170, 70), 4: (220, 190, 40),
              5: (180, 60, 180)}


def _shape_mask(cls: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Binary mask of one object of class ``cls`` in a ``size``×``size`` box."""
    m = np.zeros((size, size), np.uint8)
    c, r = size // 2, size // 2 - 1
    if cls == 1:  # disk
        cv2.circle(m, (c, c), r, 1, -1)
    elif cls == 2:  # square, slightly rotated
        ang = rng.uniform(-25, 25)
        box = cv2.boxPoints(((c, c), (1.4 * r, 1.4 * r), ang)).astype(np.int32)
        cv2.fillPoly(m, [box], 1)
    elif cls == 3:  # triangle
        ang = rng.uniform(0, 2 * np.pi)
        pts = [(c + r * np.cos(ang + k * 2 * np.pi / 3), c + r * np.sin(ang + k * 2 * np.pi / 3))
               for k in range(3)]
        cv2.fillPoly(m, [np.array(pts, np.int32)], 1)
    elif cls == 4:  # ring
        cv2.circle(m, (c, c), r, 1, -1)
        cv2.circle(m, (c, c), max(2, int(r * 0.55)), 0, -1)
    elif cls == 5:  # cross
        w = max(2, r // 3)
        m[c - w:c + w + 1, c - r:c + r + 1] = 1
        m[c - r:c + r + 1, c - w:c + w + 1] = 1
    return m


def _texture(cls: int, size: int, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Class-specific texture of an object, HxWx3 float in [0, 255]."""
    yy, xx = np.mgrid[:size, :size]
    base = np.ones((size, size, 1)) * rgb
    if cls == 1:  # dots
        period = rng.integers(5, 8)
        dots = ((yy % period < 2) & (xx % period < 2))[..., None]
        tex = np.where(dots, base * 0.35, base)
    elif cls == 2:  # stripes
        period = rng.integers(4, 7)
        tex = np.where(((yy // 2) % period < period // 2)[..., None], base, base * 0.55)
    elif cls == 3:  # checker
        p = rng.integers(3, 6)
        tex = np.where((((yy // p) + (xx // p)) % 2 == 0)[..., None], base, base * 0.5)
    elif cls == 4:  # plain with a radial shading
        d = np.hypot(yy - size / 2, xx - size / 2) / (size / 2)
        tex = base * (1.0 - 0.3 * d)[..., None]
    else:  # speckle noise
        tex = base * rng.uniform(0.5, 1.1, (size, size, 1))
    return np.clip(tex, 0, 255)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Cluttered background: gradient, random rectangles and lines, noise."""
    g = np.linspace(0, 1, size)[None, :, None]
    c0, c1 = rng.uniform(60, 200, 3), rng.uniform(60, 200, 3)
    img = np.ascontiguousarray(np.broadcast_to(c0 * (1 - g) + c1 * g, (size, size, 3)))
    palette = list(_CLASS_RGB.values())
    for _ in range(rng.integers(4, 9)):
        # Half the clutter borrows an object colour, so colour alone does not classify.
        col = np.array(palette[rng.integers(len(palette))]) if rng.random() < 0.5 \
            else rng.uniform(30, 230, 3)
        x0, y0 = rng.integers(0, size, 2)
        if rng.random() < 0.5:
            x1, y1 = x0 + rng.integers(4, size // 3), y0 + rng.integers(4, size // 3)
            cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), col.tolist(), -1)
        else:
            x1, y1 = rng.integers(0, size, 2)
            cv2.line(img, (int(x0), int(y0)), (int(x1), int(y1)), col.tolist(),
                     int(rng.integers(1, 4)))
    img += rng.normal(0, 8, img.shape)
    return img


def render_sample(index: int, size: int = 96, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Image (HxWx3 uint8 RGB) and exact mask (HxW uint8, 0 = background) of sample ``index``."""
    rng = np.random.default_rng([seed, index])
    img = _background(size, rng)
    mask = np.zeros((size, size), np.uint8)
    num_fg = len(SYNTHETIC_CLASSES) - 1
    n_obj = int(rng.integers(1, 4))
    classes = rng.choice(np.arange(1, num_fg + 1), size=n_obj, replace=rng.random() < 0.3)
    for cls in classes:
        osize = int(rng.integers(size // 4, size // 2))
        x0, y0 = rng.integers(0, size - osize, 2)
        m = _shape_mask(int(cls), osize, rng).astype(bool)
        rgb = np.clip(np.array(_CLASS_RGB[int(cls)]) + rng.normal(0, 18, 3), 0, 255)
        tex = _texture(int(cls), osize, rgb, rng)
        region = img[y0:y0 + osize, x0:x0 + osize]
        region[m] = tex[m]
        mask[y0:y0 + osize, x0:x0 + osize][m] = cls
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def make_synthetic_voc(root: str,
                       num_train: int = 400,
                       num_val: int = 100,
                       size: int = 96,
                       seed: int = 0) -> Dict[str, int]:
    """Write the synthetic set under ``root`` in the VOC layout; a no-op if already complete.

    Layout: ``JPEGImages/*.jpg``, ``SegmentationClassAug/*.png`` (palette PNGs of class
    indices), ``ImageSets/Segmentation/{train_aug,train,val}.txt`` and ``cls_labels.json``.
    """
    from mmwsss.utils.io import (atomic_write, dump_json_atomic, read_json_or_none,
                                 save_label_png, write_text_atomic)
    if size < 32 or num_train < 1 or num_val < 1:
        raise ValueError(f'synthetic set: size {size} (at least 32), num_train {num_train} and '
                         f'num_val {num_val} (at least 1)')
    splits = {'train_aug': [f'syn_train_{i:05d}' for i in range(num_train)],
              'val': [f'syn_val_{i:05d}' for i in range(num_val)]}
    splits['train'] = splits['train_aug'][:max(1, num_train // 4)]
    stamp = osp.join(root, 'meta.json')
    meta = dict(num_train=num_train, num_val=num_val, size=size, seed=seed, version=1)
    names = splits['train_aug'] + splits['val']
    if read_json_or_none(stamp) == meta and all(
            osp.isfile(osp.join(root, 'JPEGImages', n + '.jpg')) and
            osp.isfile(osp.join(root, 'SegmentationClassAug', n + '.png')) for n in names):
        return {k: len(v) for k, v in splits.items()}
    if osp.isfile(stamp):  # the set is rewritten: until the new stamp, it is incomplete
        os.remove(stamp)
    for sub in ('JPEGImages', 'SegmentationClassAug', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    labels: Dict[str, List[int]] = {}
    offsets = {'train_aug': 0, 'val': 1_000_000}
    for split in ('train_aug', 'val'):
        for i, name in enumerate(splits[split]):
            img, mask = render_sample(offsets[split] + i, size, seed)
            ok, jpeg = cv2.imencode('.jpg', img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise RuntimeError(f'OpenCV could not encode synthetic image {name}')
            with atomic_write(osp.join(root, 'JPEGImages', name + '.jpg')) as tmp:
                jpeg.tofile(tmp)
            save_label_png(mask, osp.join(root, 'SegmentationClassAug', name + '.png'),
                           voc_palette())
            labels[name] = image_labels_from_mask(mask)
    for split, names in splits.items():
        write_text_atomic('\n'.join(names) + '\n',
                          osp.join(root, 'ImageSets/Segmentation', split + '.txt'))
    dump_json_atomic(labels, osp.join(root, 'cls_labels.json'))
    dump_json_atomic(meta, stamp)  # last: the set is complete
    return {k: len(v) for k, v in splits.items()}


@DATASETS.register_module()
class SyntheticVOCDataset(VOCImageLevelDataset):
    """The synthetic set (``make_synthetic_voc``) with its own classes; VOC layout otherwise."""
    METAINFO = dict(classes=SYNTHETIC_CLASSES, palette=voc_palette(len(SYNTHETIC_CLASSES)))

    def load_data_list(self) -> List[dict]:
        if not osp.isdir(self.data_root or ''):
            raise FileNotFoundError(
                f'synthetic dataset not found at {self.data_root!r}: generate it with '
                f'`python tools/make_synthetic_voc.py --out {self.data_root}`')
        return super().load_data_list()
