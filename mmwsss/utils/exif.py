"""EXIF orientation: photos stored sideways with a tag that says how to turn them upright.

mmcv's ``LoadImageFromFile`` (``color_type='color'``, OpenCV) turns an image by its tag, while
annotation files made on the stored pixels (COCO's polygons and sizes, most tools) do not.
These helpers let masks follow the image as it loads.
"""
from typing import Optional, Tuple

import numpy as np

EXIF_ORIENTATION_TAG = 0x0112
# orientations that swap width and height
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def read_orientation(path: str) -> Optional[Tuple[Tuple[int, int], int]]:
    """((width, height) as stored, EXIF orientation 1..8; 1 when untagged) from the file
    header, or None when the header cannot be read."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            orientation = img.getexif().get(EXIF_ORIENTATION_TAG, 1)
            return img.size, orientation if orientation in range(1, 9) else 1
    except Exception:  # noqa: BLE001 -- a bad file fails when loaded, with its own report
        return None


def decoded_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image as ``LoadImageFromFile`` decodes it (turned by its
    EXIF orientation), from the header; None if the header cannot be read."""
    info = read_orientation(path)
    if info is None:
        return None
    size, orientation = info
    return size[::-1] if orientation in TRANSPOSING_ORIENTATIONS else size


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` (H×W[×C], stored pixels) as an image tagged ``orientation`` displays: the
    turn OpenCV's decoder (and PIL's ``ImageOps.exif_transpose``) applies."""
    ops = {1: lambda a: a,
           2: lambda a: a[:, ::-1],                 # mirrored
           3: lambda a: a[::-1, ::-1],              # 180 degrees
           4: lambda a: a[::-1],                    # flipped upside down
           5: lambda a: a.swapaxes(0, 1),           # transposed
           6: lambda a: np.rot90(a, -1),            # 90 degrees clockwise
           7: lambda a: np.rot90(a, 2).swapaxes(0, 1),  # transversed
           8: lambda a: np.rot90(a, 1)}             # 90 degrees counter-clockwise
    if orientation not in ops:
        raise ValueError(f'EXIF orientation {orientation}: valid values are 1..8')
    return np.ascontiguousarray(ops[orientation](array))
