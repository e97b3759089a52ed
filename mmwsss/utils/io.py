"""Small I/O helpers: atomic writes of palette PNGs and JSON."""
import json
import os
import os.path as osp
import tempfile
from typing import Any, List, Optional, Sequence

import numpy as np
from PIL import Image


def _atomic_target(path: str):
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix='.tmp-', suffix=osp.splitext(path)[1])
    os.close(fd)
    return tmp


def voc_palette(num_classes: int = 256) -> List[List[int]]:
    """The PASCAL VOC colour map (bit-interleaved class index), ``num_classes`` entries."""
    idx = np.arange(num_classes)
    cmap = np.zeros((num_classes, 3), np.int64)
    for bit in range(8):
        for ch in range(3):
            cmap[:, ch] |= ((idx >> ch) & 1) << (7 - bit)
        idx = idx >> 3
    return cmap.tolist()


def save_label_png(label: np.ndarray, path: str, palette: Optional[Sequence] = None) -> None:
    """Write a uint8 label map as a palette PNG, atomically (temp file + rename).

    A reader never sees a half-written file: an interrupted run leaves either no file or a
    complete one, so a resumed run can trust every PNG that exists.
    """
    if label.ndim != 2:
        raise ValueError(f'label map for {path} must be 2-D, got shape {label.shape}')
    if label.dtype != np.uint8:
        if label.min() < 0 or label.max() > 255:
            raise ValueError(f'label values for {path} must lie in 0..255')
        label = label.astype(np.uint8)
    img = Image.fromarray(label, mode='P')
    # always a full 256-entry palette: without one, Pillow writes a 1-bit PNG and indices
    # above 1 are lost
    flat = np.asarray(voc_palette(), np.uint8)
    if palette is not None:
        pal = np.asarray(palette, np.uint8).reshape(-1, 3)[:256]
        flat[:len(pal)] = pal
    flat[255] = (224, 224, 192)  # VOC's colour for 'ignore'
    img.putpalette(flat.flatten().tolist())
    tmp = _atomic_target(path)
    try:
        img.save(tmp, format='PNG')
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def load_label_png(path: str) -> np.ndarray:
    """Read a label PNG as class indices (palette index, not colour)."""
    with Image.open(path) as img:
        return np.asarray(img if img.mode in ('P', 'L') else img.convert('L')).copy()


def dump_json_atomic(obj: Any, path: str) -> None:
    tmp = _atomic_target(path)
    try:
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=2, default=_to_builtin)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _to_builtin(obj: Any):
    """JSON fallback for numpy / torch scalars (metrics often are)."""
    if hasattr(obj, 'item'):
        return obj.item()
    if hasattr(obj, 'tolist'):
        return obj.tolist()
    raise TypeError(f'{type(obj).__name__} is not JSON serializable')
