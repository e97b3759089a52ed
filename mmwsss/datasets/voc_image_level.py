"""PASCAL VOC 2012 (+SBD aug) with image-level labels for WSSS."""
import os.path as osp
import warnings
from typing import List, Optional

import numpy as np
from mmengine.fileio import get_local_path
from mmseg.datasets import BaseSegDataset

from mmwsss.registry import DATASETS
from mmwsss.utils.io import load_json, voc_palette

VOC_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor')


@DATASETS.register_module()
class VOCImageLevelDataset(BaseSegDataset):
    """VOC 2012 aug: images, masks (``SegmentationClassAug``) and image-level labels.

    Image-level labels are the foreground classes present in an image, as indices into
    ``classes`` (so 1..20 on VOC; 0 is background, never a label). They come from
    ``img_labels_file`` when given (JSON ``{image_id: [class indices]}``, the form
    ``tools/make_image_labels.py`` writes), otherwise from the masks at load time in the
    pipeline (``LoadImageLevelLabels``). The masks are also what CAM / pseudo-label mIoU is
    measured against; a WSSS model never trains on them.

    Args:
        ann_file: split list (``ImageSets/Segmentation/train_aug.txt``), one image id a line.
        img_labels_file: optional JSON of image-level labels, relative to ``data_root``.
        require_masks: if True (the default) every image must have a mask; a missing one is an
            error naming the file. Set False for image-level-only data.
        skip_unreadable: training sets only (the mmwsss configs set it on theirs): a sample
            whose image or mask cannot be loaded (corrupt, truncated, a mask of the wrong
            size or values) is reported with a warning naming the file and the problem, and
            MMEngine draws another image in its place, so one broken file among thousands
            does not end a long run. A set of mostly broken files still stops the run, after
            ``max_refetch`` draws. Off for evaluation: a score must cover every image, so a
            broken one is an error there. An error that names neither of the sample's files
            (a transform's setting, say) is raised at once.
    """
    METAINFO = dict(classes=VOC_CLASSES, palette=voc_palette(len(VOC_CLASSES)))

    def __init__(self,
                 ann_file: str = 'ImageSets/Segmentation/train_aug.txt',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 img_labels_file: Optional[str] = None,
                 require_masks: bool = True,
                 skip_unreadable: bool = False,
                 **kwargs) -> None:
        self.img_labels_file = img_labels_file
        self.require_masks = require_masks
        self.skip_unreadable = skip_unreadable
        super().__init__(
            ann_file=ann_file, img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def prepare_data(self, idx: int):
        """The sample ``idx`` through the pipeline; with ``skip_unreadable`` (and not in
        ``test_mode``) a file that cannot be loaded gives ``None``, which makes MMEngine's
        ``BaseDataset.__getitem__`` draw another image."""
        if not self.skip_unreadable or self.test_mode:
            return super().prepare_data(idx)
        try:
            return super().prepare_data(idx)
        except (OSError, ValueError) as e:
            # the loaders' errors name the file and the problem; any other error (a wrong
            # pipeline setting, say) would strike every image: it stops the run at once
            info = self.get_data_info(idx)
            files = [f for f in (info.get('img_path'), info.get('seg_map_path')) if f]
            if not any(str(f) in str(e) or f == getattr(e, 'filename', None) for f in files):
                raise
            warnings.warn(f'skipped in training, another image drawn instead: {e}')
            return None

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.img_labels_file and self.data_root and not osp.isabs(self.img_labels_file):
            self.img_labels_file = osp.join(self.data_root, self.img_labels_file)

    def _read_img_labels(self) -> Optional[dict]:
        if not self.img_labels_file:
            return None
        if not osp.isfile(self.img_labels_file):
            raise FileNotFoundError(
                f'image-level labels file {self.img_labels_file} does not exist '
                '(make it with tools/make_image_labels.py, or leave img_labels_file unset to '
                'derive labels from the masks)')
        labels = load_json(self.img_labels_file, 'image-level labels file')
        if not isinstance(labels, dict):
            raise ValueError(f'image-level labels file {self.img_labels_file} holds a '
                             f'{type(labels).__name__}; expected {{"image id": [class indices]}}')
        return labels

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'split file {self.ann_file} does not exist '
                                    '(see docs/datasets.md for the expected layout)')
        img_labels = self._read_img_labels()
        num_classes = len(self.metainfo['classes'])
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path', '')
        data_list = []
        with get_local_path(self.ann_file) as local:
            names = read_split(local)
        if not names:
            raise ValueError(f'split file {self.ann_file} lists no images (one image id per '
                             'line, e.g. 2007_000032)')
        missing = []
        for name in names:
            info = dict(
                img_path=osp.join(img_dir, name + self.img_suffix),
                img_id=name,
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[],
                num_classes=num_classes)  # LoadAnnotations checks mask values against it
            if ann_dir:
                seg = osp.join(ann_dir, name + self.seg_map_suffix)
                if osp.isfile(seg):
                    info['seg_map_path'] = seg
                elif self.require_masks:
                    missing.append(seg)
            if img_labels is not None:
                if name not in img_labels:
                    raise KeyError(f'{self.img_labels_file} has no labels for image {name!r}')
                labels = self._class_indices(img_labels[name], name)
                bad = [c for c in labels if not 0 < c < num_classes]
                if bad:
                    raise ValueError(f'{self.img_labels_file}: image {name!r} has class indices '
                                     f'{bad} outside 1..{num_classes - 1}')
                info['img_labels'] = labels
            data_list.append(info)
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(names)} masks listed by {self.ann_file} are missing, '
                f'e.g. {missing[:3]}')
        # training: now, not at the iteration that first draws one (label generation
        # reports a missing image and goes on; a subset by `indices` is not checked whole)
        if not self.test_mode and self._indices is None:
            absent = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
            if absent:
                raise FileNotFoundError(
                    f'{len(absent)} of {len(names)} images listed by {self.ann_file} are '
                    f'missing, e.g. {absent[:3]}')
        return data_list

    def _class_indices(self, entry, name: str) -> List[int]:
        if not isinstance(entry, list) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in entry):
            raise ValueError(f'{self.img_labels_file}: image {name!r} has {entry!r}; expected '
                             'a list of class indices (integers, background 0 not needed)')
        return sorted(set(entry))


def read_split(path: str) -> List[str]:
    """The image ids of a split file: the first word of every non-empty line."""
    with open(path) as f:
        return [ln.split()[0] for ln in f if ln.strip()]


def image_labels_from_mask(mask: np.ndarray, ignore_index: int = 255) -> List[int]:
    """Foreground classes present in a label map (background 0 and ``ignore_index`` dropped)."""
    return [int(c) for c in np.unique(mask) if c != 0 and c != ignore_index]
