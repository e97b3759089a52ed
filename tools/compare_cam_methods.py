"""Train and evaluate several CAM configs the same way and print one table.

    python tools/compare_cam_methods.py CFG [CFG ...] --work-dir work_dirs/compare

Each config: tools/train.py --resume (finished runs are not retrained), then
tools/test.py --split train (CAM mIoU sweep + boundary F; skipped when its metrics are of the
same checkpoint). The table goes to stdout and to WORK_DIR/table.md. Extra --cfg-options
apply to every config. An interrupted or failed run keeps what it finished: run the same
command again.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

from mmwsss.apis.cli import run_main
from mmwsss.apis.report import cam_methods_table
from mmwsss.utils import dump_json_atomic, read_json_or_none, write_text_atomic


def run(*args: str) -> None:
    print('+', ' '.join(args), flush=True)
    proc = subprocess.Popen([sys.executable, *args])
    try:
        returncode = proc.wait()
    except KeyboardInterrupt:  # the step got the Ctrl-C too: let it stop its own way
        proc.wait()            # (training saves the iteration it stops; subprocess.run kills)
        raise
    if returncode:
        sys.exit(f'{osp.basename(args[0])} {args[1]} stopped (exit status {returncode}); '
                 'finished steps are kept: run the same command again to go on')


def evaluation_id(cfg: str, ckpt: str, options: list) -> dict:
    """What an evaluation's metrics depend on: the config, the checkpoint file (path, size,
    modification time) and the --cfg-options."""
    return dict(config=osp.realpath(cfg), checkpoint=osp.realpath(ckpt),
                size=osp.getsize(ckpt), mtime=osp.getmtime(ckpt), options=list(options))


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
        metrics, source = (osp.join(work, n) for n in ('train_metrics.json', 'metrics_of.json'))
        made_of = evaluation_id(cfg, ckpt, args.cfg_options)
        if not (osp.isfile(metrics) and read_json_or_none(source) == made_of):
            run(osp.join(tools, 'test.py'), cfg, ckpt, '--split', 'train', '--work-dir', work,
                '--out-metrics', metrics, *opts)
            dump_json_atomic(made_of, source)
        with open(metrics) as f:
            results[name] = json.load(f)
    table = cam_methods_table(results)
    print(table)
    os.makedirs(args.work_dir, exist_ok=True)
    write_text_atomic(table + '\n', osp.join(args.work_dir, 'table.md'))


if __name__ == '__main__':
    run_main(main, 'finished trainings and evaluations are kept; run the same command again '
                   'to go on')
