"""The demo's results table, from the metric files the tools wrote."""
import os.path as osp
from typing import Dict

from mmwsss.utils.io import load_json


def _read(path: str) -> Dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} missing: run the step that writes it (tools/demo.sh)')
    return load_json(path, 'metrics file', 'run the step that writes it again (tools/demo.sh)')


def demo_table(work_dir: str) -> str:
    """Markdown table: CAM, pseudo-label, WSSS and fully-supervised segmenter mIoU."""
    cam = _read(osp.join(work_dir, 'cam_metrics.json'))
    pseudo = _read(osp.join(work_dir, 'pseudo_metrics.json'))
    wsss = _read(osp.join(work_dir, 'seg_pseudo_metrics.json'))
    full = _read(osp.join(work_dir, 'seg_gt_metrics.json'))
    rows = [
        ('CAM (train_aug, best bg threshold %.2f)' % cam['bg_threshold'], cam['mIoU']),
        ('pseudo-labels (train_aug)', pseudo['mIoU']),
        ('DeepLab-v2 on pseudo-labels (val)', wsss['mIoU']),
        ('DeepLab-v2 on true masks (val)', full['mIoU']),
    ]
    lines = ['| stage | mIoU (%) |', '|---|---|']
    lines += [f'| {name} | {value:.2f} |' for name, value in rows]
    lines.append(f'| WSSS / fully-supervised | {wsss["mIoU"] / max(full["mIoU"], 1e-9):.3f} |')
    return '\n'.join(lines)


def cam_methods_table(results: Dict[str, Dict]) -> str:
    """Markdown table of CAM metrics (``tools/test.py --split train`` output) per method."""
    lines = ['| method | CAM mIoU (%) | best bg threshold | boundary F (%) |',
             '|---|---|---|---|']
    for name, m in results.items():
        bf = f'{m["mBF"]:.2f}' if 'mBF' in m else 'n/a'
        lines.append(f'| {name} | {m["mIoU"]:.2f} | {m["bg_threshold"]:.2f} | {bf} |')
    return '\n'.join(lines)
