"""Dataset preparation: image-level label files and COCO semantic masks."""
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from mmwsss.utils.exif import TRANSPOSING_ORIENTATIONS, apply_orientation, read_orientation
from mmwsss.utils.io import (dump_json_atomic, load_label_png, remove_stale_temp_files,
                             save_label_png, write_text_atomic)
from .voc_image_level import image_labels_from_mask, read_split, voc_palette


def write_image_labels(data_root: str, split_file: str, mask_dir: str,
                       out_file: str = 'cls_labels.json',
                       num_classes: Optional[int] = None) -> Dict[str, List[int]]:
    """``{image id: [present foreground classes]}`` from the masks of a split, as JSON.
    With ``num_classes``, a mask value that is no class (nor 255) is an error naming it."""
    split_path = osp.join(data_root, split_file)
    names = read_split(split_path)
    labels, progress = {}, ProgressBar(len(names))
    for name in names:
        path = osp.join(data_root, mask_dir, name + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: mask of {name} (listed in {split_path}) is missing')
        labels[name] = image_labels_from_mask(load_label_png(path))
        bad = [c for c in labels[name] if num_classes and c >= num_classes]
        if bad:
            raise ValueError(f'mask {path} holds values {bad}: labels are 0..{num_classes - 1} '
                             '(background 0) or 255 (ignore)')
        progress.update()
    dump_json_atomic(labels, osp.join(data_root, out_file))
    return labels


def coco_to_semantic(data_root: str, split: str = 'train2014') -> int:
    """Semantic masks and a split list from COCO instance annotations.

    Writes ``SegmentationClass/<split>/<name>.png``: 0 background, 1..80 the COCO categories
    in id order; instances are painted largest first so smaller objects stay visible on top;
    crowd regions not covered by a normal instance are 255 (ignored). Images with no
    annotation are left out of ``ImageSets/<split>.txt``. Existing masks are kept (resumable).
    A mask is drawn on the stored pixels, as COCO annotates; an image stored with an EXIF
    orientation (``<split>/<file_name>``, read for it) gets its mask turned the same way, since
    ``LoadImageFromFile`` turns the image (``mask_as_image_loads``). Returns the number of
    listed images.
    """
    from pycocotools.coco import COCO
    ann_file = osp.join(data_root, 'annotations', f'instances_{split}.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} not found (COCO 2014 instance annotations)')
    coco = COCO(ann_file)
    cat_to_label = {cat: i + 1 for i, cat in enumerate(sorted(coco.getCatIds()))}
    out_dir = osp.join(data_root, 'SegmentationClass', split)
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_temp_files(out_dir)  # of an interrupted run
    names, palette, turned = [], voc_palette(), 0
    img_ids = sorted(coco.getImgIds())
    progress = ProgressBar(len(img_ids))
    for img_id in img_ids:
        progress.update()
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        if not anns:
            continue
        info = coco.loadImgs(img_id)[0]
        name = osp.splitext(info['file_name'])[0]
        names.append(name)
        path = osp.join(out_dir, name + '.png')
        if osp.isfile(path):
            continue
        mask = np.zeros((info['height'], info['width']), np.uint8)
        crowd = np.zeros_like(mask, dtype=bool)
        for ann in sorted(anns, key=lambda a: -a['area']):
            m = coco.annToMask(ann).astype(bool)
            if ann.get('iscrowd', 0):
                crowd |= m
            else:
                mask[m] = cat_to_label[ann['category_id']]
        mask[crowd & (mask == 0)] = 255
        oriented = mask_as_image_loads(mask, osp.join(data_root, split, info['file_name']))
        turned += oriented is not mask
        save_label_png(oriented, path, palette)
    write_text_atomic('\n'.join(names) + '\n', osp.join(data_root, 'ImageSets', f'{split}.txt'))
    if turned:
        print_log(f'{turned} masks turned to the EXIF orientation of their images', 'current')
    return len(names)


def mask_as_image_loads(mask: np.ndarray, img_path: str) -> np.ndarray:
    """``mask``, annotated on the stored pixels of ``img_path``, turned as
    ``LoadImageFromFile`` turns the image (its EXIF orientation); ``mask`` itself if the image
    is untagged, or tagged with sizes that show the annotation already followed the tag. An
    image that is missing or whose size is neither is an error naming it."""
    info = read_orientation(img_path)
    if info is None:
        raise FileNotFoundError(f'{img_path}: image not found or unreadable; the converter '
                                'reads each annotated image\'s size and EXIF orientation, so '
                                'the images must be in place (docs/datasets.md)')
    (w, h), orientation = info
    if (w, h) == mask.shape[::-1]:
        return mask if orientation == 1 else apply_orientation(mask, orientation)
    if orientation in TRANSPOSING_ORIENTATIONS and (h, w) == mask.shape[::-1]:
        return mask  # annotated as displayed
    raise ValueError(f'{img_path} is {w}x{h} but its annotation says '
                     f'{mask.shape[1]}x{mask.shape[0]} (width x height)')
