"""Train and evaluate several CAM configs the same way and print one table.

    python tools/compare_cam_methods.py CFG [CFG ...] --work-dir work_dirs/compare

Each config: tools/train.py --resume (finished runs are not retrained), then
tools/test.py --split train (CAM mIoU sweep + boundary F). The table goes to stdout and to
WORK_DIR/table.md. Extra --cfg-options apply to every config.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

from mmwsss.apis.report import cam_methods_table


def run(*args: str) -> None:
    print('+', ' '.join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True)


def main():
    parser = argparse.ArgumentParser(description='mmwsss: compare CAM methods')
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args()
    names = [osp.splitext(osp.basename(cfg))[0] for cfg in args.configs]
    shared = sorted({n for n in names if names.count(n) > 1})
    if shared:  # one work dir per name: a second run would resume the first one's model
        parser.error(f'configs with the same file name ({", ".join(shared)}) would share a '
                     'work dir and a checkpoint; give each config its own name')
    tools = osp.dirname(osp.abspath(__file__))
    results = {}
    for cfg, name in zip(args.configs, names):
        work = osp.join(args.work_dir, name)
        opts = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
        run(osp.join(tools, 'train.py'), cfg, '--work-dir', work, '--resume', *opts)
        with open(osp.join(work, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        metrics = osp.join(work, 'train_metrics.json')
        run(osp.join(tools, 'test.py'), cfg, ckpt, '--split', 'train', '--work-dir', work,
            '--out-metrics', metrics, *opts)
        with open(metrics) as f:
            results[name] = json.load(f)
    table = cam_methods_table(results)
    print(table)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'table.md'), 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
