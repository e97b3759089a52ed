"""Shared fixtures: a tiny synthetic VOC-layout dataset and tiny CAM configs."""
import contextlib
import io
import logging
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CAM_CFG = osp.join(ROOT, 'configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py')
SEG_GT_CFG = osp.join(ROOT, 'configs/deeplabv2/deeplabv2_r18-w16_1xb16-1000it_synthetic-gt-96x96.py')
SEG_PL_CFG = osp.join(ROOT,
                      'configs/deeplabv2/deeplabv2_r18-w16_1xb16-1000it_synthetic-pseudo-96x96.py')


@contextlib.contextmanager
def captured_log():
    """What the current MMLogger (a Runner's, once it is built) logs inside the block, in a
    ``StringIO``."""
    from mmengine.logging import MMLogger
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield log
    finally:
        logger.removeHandler(handler)


def _enter_mmwsss_scope():
    from mmengine.registry import init_default_scope
    init_default_scope('mmwsss')


@pytest.fixture(autouse=True)
def mmwsss_scope():
    """Each test starts in the mmwsss scope (a Runner in an earlier test may have switched it)."""
    _enter_mmwsss_scope()


@pytest.fixture(scope='module', autouse=True)
def mmwsss_module_scope():
    """So do module fixtures, which pytest builds before the function-scoped one above (a
    module run alone, or with ``-k``, would otherwise build its datasets in no scope)."""
    _enter_mmwsss_scope()


@pytest.fixture(scope='session')
def tiny_voc(tmp_path_factory):
    """24 train / 8 val synthetic images of 64×64 in the VOC layout."""
    from mmwsss.datasets import make_synthetic_voc
    root = str(tmp_path_factory.mktemp('data') / 'synthetic_voc')
    make_synthetic_voc(root, num_train=24, num_val=8, size=64, seed=3)
    return root


def tiny_overrides(data_root: str, iters: int = 4) -> dict:
    """Config overrides that shrink a synthetic config to a few iterations on ``data_root``."""
    opts = {'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
            'default_hooks.checkpoint.interval': max(1, iters // 2),
            'default_hooks.logger.interval': 1, 'train_dataloader.batch_size': 4,
            # the synthetic configs warm up linearly, then decay: squeeze both into `iters`
            'param_scheduler.0.end': 1, 'param_scheduler.1.begin': 1,
            'param_scheduler.1.end': iters}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                   'pseudo_label_dataloader'):
        opts[f'{loader}.dataset.data_root'] = data_root
        opts[f'{loader}.num_workers'] = 0
        opts[f'{loader}.persistent_workers'] = False
    return opts


def as_cli(overrides: dict) -> list:
    """``--cfg-options`` arguments for ``overrides``."""
    return ['--cfg-options'] + [f'{k}={v}' for k, v in overrides.items()]


def load_cfg(path: str, overrides: dict):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(overrides)
    return cfg


@pytest.fixture(scope='session')
def tiny_cam(tiny_voc, tmp_path_factory):
    """A CAM baseline trained for 4 iterations by tools/train.py: (work_dir, checkpoint)."""
    work = str(tmp_path_factory.mktemp('cam'))
    run_tool('tools/train.py', CAM_CFG, '--work-dir', work, *as_cli(tiny_overrides(tiny_voc)))
    return work, osp.join(work, 'iter_4.pth')


def run_tool(*args, env=None, check=True, timeout=600):
    """Run ``python tools/...`` as a user would; return the completed process."""
    full_env = dict(os.environ, **(env or {}))
    full_env['PYTHONPATH'] = ROOT + os.pathsep + full_env.get('PYTHONPATH', '')
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc
