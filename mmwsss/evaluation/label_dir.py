"""mIoU of a folder of label PNGs (pseudo-labels) against a dataset's masks."""
import os.path as osp
from typing import Dict

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from mmwsss.datasets.transforms.annotations import check_label_map
from mmwsss.utils.io import label_file, load_label_png
from .boundary import boundary_counts, boundary_fscore
from .functional import confusion_matrix, iou_from_confusion, per_class_table, summarize_confusion


def evaluate_label_dir(label_dir: str, dataset, ignore_index: int = 255,
                       allow_missing: bool = False) -> Dict:
    """Confusion-matrix mIoU and boundary F-score of ``label_dir/<image id>.png`` over
    ``dataset``'s split.

    A missing label is an error listing how many and which (``allow_missing`` counts
    them as all-ignore instead, i.e. every pixel a miss). Returns ``mIoU``, ``aAcc``,
    ``labelled`` (percent of pixels not 255), ``mBF`` (mean boundary F over foreground
    classes), per-class ``IoU`` (percent; None for a class in neither) and the text
    ``table``.
    """
    num_classes = len(dataset.metainfo['classes'])
    conf = torch.zeros(num_classes, num_classes + 1, dtype=torch.int64)
    bf_counts = np.zeros((num_classes, 4))
    missing = []
    progress = ProgressBar(len(dataset))
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'seg_map_path' not in info:
            raise FileNotFoundError(f'{info["img_path"]}: no mask to score its label against '
                                    '(build the dataset with require_masks=True)')
        gt = load_label_png(info['seg_map_path'])
        check_label_map(gt, info['seg_map_path'], num_classes=num_classes,
                        ignore_index=ignore_index)
        path = label_file(label_dir, info)
        if not osp.isfile(path):
            missing.append(path)
            if not allow_missing:
                progress.update()
                continue
            pred = torch.full(gt.shape, ignore_index)
        else:
            pred = load_label_png(path)
            if pred.shape != gt.shape:
                raise ValueError(f'{path}: size {tuple(pred.shape)} differs from mask '
                                 f'{info["seg_map_path"]} {gt.shape}')
            check_label_map(pred, path, num_classes=num_classes, ignore_index=ignore_index)
            pred = torch.from_numpy(pred)
        conf += confusion_matrix(pred, torch.from_numpy(gt), num_classes, ignore_index)
        bf_counts += boundary_counts(pred.numpy(), gt, num_classes)
        progress.update()
    if missing and not allow_missing:
        raise FileNotFoundError(f'{len(missing)} of {len(dataset)} labels missing in {label_dir}, '
                                f'e.g. {missing[:3]}')
    iou = iou_from_confusion(conf)
    out = summarize_confusion(conf)
    bf = boundary_fscore(bf_counts)
    # per-class IoU in percent like mIoU; a class absent from labels and masks has none (null
    # in JSON, not NaN)
    per_class = [None if np.isnan(v) else round(v * 100, 2) for v in iou.tolist()]
    out.update(IoU=dict(zip(dataset.metainfo['classes'], per_class)), missing=len(missing),
               mBF=bf['mBF'],
               # background has no boundary score (mBF is over the foreground classes)
               table=per_class_table(iou, dataset.metainfo['classes'],
                                     dict(BF=np.concatenate([[np.nan], bf['F'][1:]]))))
    print_log('\n' + out['table'], logger='current')
    return out
