"""Pictures a person looks at: CAM heatmaps and label overlays."""
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mmwsss.utils.io import atomic_write, read_rgb_image


def colorize_label(label: np.ndarray, palette: Sequence) -> np.ndarray:
    """(H, W) class indices → (H, W, 3) RGB using ``palette``; 255 (ignore) is white."""
    pal = np.zeros((256, 3), np.uint8)
    p = np.asarray(palette, np.uint8).reshape(-1, 3)[:255]
    pal[:len(p)] = p
    pal[255] = 255
    return pal[label]


def cam_heatmap(img: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """RGB image blended with a JET heatmap of one normalised CAM (H, W) in [0, 1]."""
    heat = cv2.applyColorMap((np.clip(cam, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return (img * (1 - alpha) + heat[..., ::-1] * alpha).astype(np.uint8)


def label_overlay(img: np.ndarray, label: np.ndarray, palette: Sequence,
                  alpha: float = 0.5) -> np.ndarray:
    """RGB image blended with the coloured label map (background left as is)."""
    color = colorize_label(label, palette).astype(np.float32)
    fg = (label > 0)[..., None]
    out = np.where(fg, img * (1 - alpha) + color * alpha, img)
    return out.astype(np.uint8)


def save_cam_and_label_overlay(img_path: str, label: np.ndarray, cams: Optional[np.ndarray],
                               palette: Sequence, out_dir: str,
                               gt: Optional[np.ndarray] = None,
                               name: Optional[str] = None) -> str:
    """Write ``out_dir/<name>.png`` (default name: the image's file name without suffix):
    image | label overlay | [true-mask overlay] | one CAM heatmap per present class, written
    atomically. Small images are enlarged (nearest) so the panels are readable.

    ``cams`` is (C, H, W) normalised CAMs of the foreground classes (absent ones all zero).
    """
    img = read_rgb_image(img_path)
    panels = [img, label_overlay(img, label, palette)]
    if gt is not None:
        panels.append(label_overlay(img, gt, palette))
    if cams is not None:
        for c in np.flatnonzero(cams.reshape(cams.shape[0], -1).max(1) > 0):
            panels.append(cam_heatmap(img, cams[c]))
    sep = np.full((img.shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate(sum(([p, sep] for p in panels), [])[:-1], axis=1)
    zoom = max(1, 256 // img.shape[0])
    if zoom > 1:
        row = cv2.resize(row, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
    path = osp.join(out_dir, (name or osp.splitext(osp.basename(img_path))[0]) + '.png')
    os.makedirs(osp.dirname(path), exist_ok=True)
    ok, png = cv2.imencode('.png', row[..., ::-1])
    if not ok:
        raise RuntimeError(f'OpenCV could not encode the picture of {img_path}')
    with atomic_write(path) as tmp:
        png.tofile(tmp)
    return path


def unique_names(paths: Sequence[str]) -> List[str]:
    """A picture name per image path: the file name without suffix, or, where several
    images share it (``a/x.jpg``, ``b/x.jpg``), their path relative to the folder they share
    without the suffix, so no picture overwrites another."""
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    shared = {s for s in stems if stems.count(s) > 1}
    if not shared:
        return stems
    root = osp.commonpath([osp.dirname(osp.abspath(p)) for p in paths])
    return [osp.splitext(osp.relpath(osp.abspath(p), root))[0] if s in shared else s
            for p, s in zip(paths, stems)]
