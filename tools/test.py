"""Evaluate a checkpoint: CAM mIoU (threshold sweep) for CAM models, mIoU for segmenters."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmwsss.utils import check_file, dump_json_atomic, prepare_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='mmwsss: test a model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the test log')
    parser.add_argument('--out-metrics', help='also write the metrics to this JSON file')
    parser.add_argument('--split', choices=['val', 'train'], default='val',
                        help="'train' evaluates on the config's pseudo_label_dataloader split "
                        '(CAM / pseudo-label quality on train, as WSSS papers report)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = check_file(args.checkpoint, 'checkpoint to test')
    if args.split == 'train':
        if 'pseudo_label_dataloader' not in cfg:
            raise KeyError(f'{args.config} has no pseudo_label_dataloader: --split train is for '
                           'CAM / label-generator configs')
        cfg.test_dataloader = cfg.pseudo_label_dataloader
    prepare_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if args.out_metrics:
        dump_json_atomic(metrics, args.out_metrics)


if __name__ == '__main__':
    main()
