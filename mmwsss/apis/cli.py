"""Argument parsing shared by the tools (config, overrides, launcher)."""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction


def tool_parser(description: str, launcher: bool = True) -> argparse.ArgumentParser:
    """A parser with the ``config`` argument, ``--cfg-options`` and, for tools that can run
    on several processes, ``--launcher``/``--local_rank``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    if launcher:
        parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                            default='none', help='job launcher')
        parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_tool_config(args: argparse.Namespace, work_dir: Optional[str] = None) -> Config:
    """The config with ``--cfg-options`` merged, ``launcher`` set and a work dir
    (``--work-dir``, else the config's, else ``work_dirs/<config name>``)."""
    if getattr(args, 'launcher', None):
        os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = getattr(args, 'launcher', 'none')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
