"""CAM mIoU on the synthetic set after fp32 and after bf16 training, side by side.

Trains each synthetic config twice with ``tools/train.py --precision fp32`` and
``--precision bf16`` (same seed, same data; bf16 needs a CUDA GPU, elsewhere both runs are
fp32), judges each with ``tools/test.py --split train`` (background-threshold sweep) and
prints both. Re-running resumes finished runs.

    python benchmarks/precision_cam_miou.py [--config CFG ...] [--work-dir DIR] [--channels-last]
        [--json FILE]
"""
import argparse
import json
import os.path as osp
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CFG = 'configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py'


def run(*cmd: str) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)


def train_and_test(cfg: str, work: str, precision: str, channels_last: bool,
                   cfg_options: list) -> dict:
    out = osp.join(work, precision)
    metrics = osp.join(out, 'cam_metrics.json')
    if not osp.exists(metrics):
        run('tools/train.py', cfg, '--work-dir', out, '--resume', '--precision', precision,
            '--channels-last' if channels_last else '--no-channels-last',
            *(['--cfg-options', *cfg_options] if cfg_options else []))
        with open(osp.join(out, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        run('tools/test.py', cfg, ckpt, '--work-dir', out, '--split', 'train',
            '--out-metrics', metrics)
    with open(metrics) as f:
        return json.load(f)


def main() -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', nargs='+', default=[DEFAULT_CFG])
    p.add_argument('--work-dir', default='work_dirs/precision_cam_miou')
    p.add_argument('--data', default='data/synthetic_voc', help='made here if absent')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--cfg-options', nargs='+', default=[], help='passed to tools/train.py')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args()
    if not osp.exists(osp.join(ROOT, args.data, 'ImageSets')):
        run('tools/make_synthetic_voc.py', '--out', args.data)
    res = {}
    for cfg in args.config:
        name = osp.splitext(osp.basename(cfg))[0]
        res[name] = {pr: train_and_test(cfg, osp.join(args.work_dir, name), pr,
                                        args.channels_last, args.cfg_options)
                     for pr in ('fp32', 'bf16')}
    print('| config | training precision | CAM mIoU (%) | best bg threshold |')
    print('|---|---|---|---|')
    for name, runs in res.items():
        for pr, m in runs.items():
            print(f"| {name} | {pr} | {m['mIoU']:.2f} | {m['bg_threshold']:.2f} |")
    if not torch.cuda.is_available():
        print('no CUDA GPU here: the bf16 runs fell back to fp32 (tools/train.py warned), so '
              'both rows of each config are fp32')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
