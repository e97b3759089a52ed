"""Small I/O helpers: atomic writes of palette PNGs, JSON, text and other files."""
import json
import math
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np
from PIL import Image


TMP_PREFIX, TMP_SUFFIX = '.tmp-', '.part'


def _atomic_target(path: str):
    """A temp file beside ``path``. Its name (``.tmp-*.part``) never matches ``*.png`` /
    ``*.json``, so a file left by a killed run is never taken for a result
    (``remove_stale_temp_files`` clears them)."""
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=TMP_PREFIX, suffix=TMP_SUFFIX)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # the mode open() gives; mkstemp's 0600 survives a rename
    return tmp


@contextmanager
def atomic_write(path: str) -> Iterator[str]:
    """``with atomic_write(path) as tmp:`` write ``tmp``; it becomes ``path`` only when the
    block ends without an error. A reader never sees a half-written file: an interrupted run
    leaves either no file (or the previous one) or a complete one."""
    tmp = _atomic_target(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def write_text_atomic(text: str, path: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


def _read_umask() -> int:
    """The process umask (read once at import: setting it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def check_writable_dir(folder: str, what: str) -> str:
    """Create ``folder`` if needed and make sure files can be written there, before a long
    job computes results it could not save. ``PermissionError`` names the folder."""
    try:
        os.makedirs(folder, exist_ok=True)
        # not a .tmp-*.part name: another rank may be clearing those right now
        fd, probe = tempfile.mkstemp(dir=folder, prefix='.probe-')
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise PermissionError(f'{what} {folder} is not writable ({e.strerror or e})') from e
    return folder


def remove_stale_temp_files(folder: str) -> int:
    """Delete the temp files an interrupted run left under ``folder`` (only call it while no
    other process writes there). Returns how many were removed."""
    removed = 0
    for root, _, files in os.walk(folder):
        for name in files:
            if name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX):
                try:
                    os.remove(osp.join(root, name))
                    removed += 1
                except FileNotFoundError:  # gone meanwhile
                    pass
    return removed


def label_file(label_dir: str, data_info: dict) -> str:
    """The label PNG of a dataset item in a label folder: ``<img_id>.png``, the split id
    with its subfolders, which is where ``PseudoLabelDataset`` reads it (two images of one
    file name in different folders do not collide). Items without an id (mmseg datasets)
    go by their image's file stem."""
    name = data_info.get('img_id') or osp.splitext(osp.basename(data_info['img_path']))[0]
    return osp.join(label_dir, f'{name}.png')


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
    with atomic_write(path) as tmp:
        img.save(tmp, format='PNG')


def load_label_png(path: str) -> np.ndarray:
    """Read a label PNG as uint8 class indices (the palette index, not the colour).

    Palette (``P``/``PA``), grayscale (``L``/``LA``), bilevel and 16/32-bit integer images
    hold indices; an RGB(A) image holds colours, which are not class indices, so it is an
    error (VOC's ``SegmentationClass`` PNGs are palette images: keep them as they are).
    """
    try:
        return _read_label_png(path)
    except FileNotFoundError:
        raise
    except (OSError, SyntaxError) as e:  # PIL: truncated or not an image
        raise ValueError(f'label map {path} cannot be read ({type(e).__name__}: {e}); the '
                         'file may be truncated or not a PNG') from e


def _read_label_png(path: str) -> np.ndarray:
    with Image.open(path) as img:
        img.load()
        if img.mode in ('P', 'L', '1'):
            label = np.asarray(img)
        elif img.mode in ('PA', 'LA'):
            label = np.asarray(img.getchannel(0))
        elif img.mode.startswith('I'):
            label = np.asarray(img)
            if label.size and (label.min() < 0 or label.max() > 255):
                raise ValueError(f'label map {path}: values {label.min()}..{label.max()} '
                                 'outside 0..255')
        else:
            raise ValueError(f'label map {path} is a {img.mode} image: a label PNG holds one '
                             'class index per pixel (palette or grayscale), not colours')
        return label.astype(np.uint8, copy=True)


def read_rgb_image(path: str, what: str = 'image') -> np.ndarray:
    """An image file as H×W×3 uint8 RGB, read as the data pipelines read it (mmcv, EXIF
    orientation applied); a missing or undecodable file is an ``OSError`` naming it."""
    import mmcv
    img = mmcv.imread(path)  # BGR; None (not an error) where the bytes are no image
    if img is None:
        raise OSError(f'{path}: cannot read the {what} (not an image file, or damaged)')
    return np.ascontiguousarray(img[..., ::-1])


def load_json(path: str, what: str, hint: str = '') -> Any:
    """The JSON in ``path``; a file that is not valid JSON is a ``ValueError`` naming it as
    ``what`` (with ``hint``: what to do about it)."""
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{what} {path} is not valid JSON ({e})'
                             f'{"; " + hint if hint else ""}') from e


def read_json_or_none(path: str) -> Any:
    """The JSON in ``path``, or None if it is missing or unreadable (a stamp or cache file
    that, when absent or damaged, means "redo")."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dump_json_atomic(obj: Any, path: str) -> None:
    """Write ``obj`` as strict JSON, atomically: numpy / torch scalars as numbers, NaN and
    infinities (an mIoU with nothing to score) as null, which every JSON parser reads."""
    with atomic_write(path) as tmp, open(tmp, 'w') as f:
        json.dump(_finite(obj), f, indent=2, allow_nan=False)


def _finite(obj: Any):
    """``obj`` with numpy / torch values as Python ones and non-finite floats as None."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, 'tolist') and not isinstance(obj, (str, bytes)):
        return _finite(obj.tolist())  # numpy / torch scalars and arrays
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
