"""What the tools share: argument parsing (config, overrides, launcher), the config changes
their options make, and how they end on Ctrl-C."""
import argparse
import os
import os.path as osp
import warnings
import sys
from typing import Callable, Optional

from mmengine.config import Config, DictAction


def check_out_file(path: Optional[str], option: str) -> None:
    """A tool's output file (``--out-metrics``) must be writable before a long run computes
    what it would hold; ``PermissionError`` names the option and the folder."""
    if path:
        from mmwsss.utils.io import check_writable_dir
        check_writable_dir(osp.dirname(osp.abspath(path)), f'{option} folder')


def run_main(main: Callable[[], object], on_interrupt: Optional[str] = None) -> None:
    """Run a tool's ``main``; Ctrl-C ends it with exit status 130 and one line saying what was
    kept and how to go on (``on_interrupt``; not when the tool said so itself: None, or an
    interrupt marked ``reported``), instead of a traceback through whatever was running.

    A missing user-given file (``MissingFileError``: a checkpoint, weights, an image) ends it
    with exit status 2 and its message alone, which names the file and where to get it; the
    traceback is noise there. ``MMWSSS_TRACEBACK=1`` shows it. Other errors keep theirs."""
    from mmwsss.utils import MissingFileError
    try:
        main()
    except KeyboardInterrupt as interrupt:
        if on_interrupt and not getattr(interrupt, 'reported', False):
            print(f'\ninterrupted: {on_interrupt}', file=sys.stderr, flush=True)
        sys.exit(130)
    except MissingFileError as error:
        if os.environ.get('MMWSSS_TRACEBACK', '0') not in ('', '0'):
            raise
        print(f'error: {error} (MMWSSS_TRACEBACK=1 shows where it was raised)',
              file=sys.stderr, flush=True)
        sys.exit(2)


def apply_train_options(cfg: Config, precision: Optional[str] = None,
                        channels_last: Optional[bool] = None, resume: bool = False,
                        resume_from: Optional[str] = None) -> Config:
    """``tools/train.py``'s options on ``cfg``: ``precision`` / ``channels_last`` override the
    config's switches (then applied: ``apply_training_precision``); ``resume`` continues from
    the work dir's latest checkpoint, ``resume_from`` from that file (both checked). Without a
    checkpoint yet, training starts afresh, from the config's ``load_from`` if it has one.
    Ctrl-C saves the iteration it stops and cuDNN autotunes the training loop only
    (``add_training_hooks``)."""
    from mmwsss.utils import resume_checkpoint
    from .precision import apply_training_precision
    if precision:
        cfg.train_precision = precision
    if channels_last is not None:
        cfg.channels_last = channels_last
    apply_training_precision(cfg)
    if resume or resume_from:
        checkpoint = resume_checkpoint(cfg.work_dir, resume_from or 'auto')
        if checkpoint:
            cfg.resume, cfg.load_from = True, checkpoint
    add_training_hooks(cfg)
    return cfg


def add_training_hooks(cfg: Config) -> None:
    """Hooks every training run gets, whatever the config, each listed once (a config's own
    entry, with its arguments, is kept): Ctrl-C saves the iteration it interrupts
    (``CheckpointOnInterruptHook``); cuDNN autotunes the fixed-size training convolutions but
    not the many-size evaluation (``CudnnBenchmarkHook``)."""
    hooks = list(cfg.get('custom_hooks') or [])
    for name in ('CheckpointOnInterruptHook', 'CudnnBenchmarkHook'):
        if not any(str(h.get('type', '')).split('.')[-1] == name for h in hooks):
            hooks.append(dict(type=f'mmwsss.{name}'))
    cfg.custom_hooks = hooks


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
        warn_unknown_options(cfg, args.cfg_options)
        old_root = cfg.get('data_root')
        cfg.merge_from_dict(args.cfg_options)
        if 'data_root' in args.cfg_options:
            follow_data_root(cfg, old_root, cfg.data_root)
    cfg.launcher = getattr(args, 'launcher', 'none')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


# top-level keys MMEngine's Runner (and mmwsss's tools) read even when a config lacks them
RUNNER_KEYS = frozenset({
    'auto_scale_lr', 'compile', 'custom_hooks', 'default_hooks', 'default_scope', 'env_cfg',
    'experiment_name', 'launcher', 'load_from', 'log_level', 'log_processor', 'randomness',
    'resume', 'val_cfg', 'test_cfg', 'visualizer', 'work_dir', 'train_precision',
    'channels_last', 'tta_model', 'tta_pipeline'})


def warn_unknown_options(cfg: Config, options: dict) -> None:
    """Warn about ``--cfg-options`` whose first key the config does not have and nothing
    reads (a typo such as ``label_generater.bg_threshold``): mmengine adds them silently."""
    unknown = sorted({k.split('.')[0] for k in options} - set(cfg.keys()) - RUNNER_KEYS)
    if unknown:
        warnings.warn(f'--cfg-options {", ".join(unknown)}: not in {cfg.filename}; nothing '
                      f'reads it (the config has: {", ".join(sorted(cfg.keys()))})')


def follow_data_root(cfg: Config, old_root: Optional[str], new_root: str) -> None:
    """``--cfg-options data_root=DIR`` moves every loader's dataset that used the config's
    ``data_root`` (the variable is copied into each dataset when the file is read, so
    overriding it alone would change nothing)."""
    moved = 0
    for key in [k for k in cfg if k.endswith('_dataloader')]:
        dataset = cfg[key].get('dataset') if isinstance(cfg[key], dict) else None
        if isinstance(dataset, dict) and dataset.get('data_root') == old_root:
            dataset['data_root'] = new_root
            moved += 1
    if not moved:
        raise KeyError(f'--cfg-options data_root={new_root}: no dataset of this config reads '
                       "the config's data_root; set <loader>.dataset.data_root instead")


def require_masks(dataset_cfg: dict) -> dict:
    """``dataset_cfg`` of an mmwsss split dataset set to fail, naming them, on images without a
    mask (the label-generation split allows them; scoring needs every mask). In place."""
    if 'require_masks' in dataset_cfg:
        dataset_cfg['require_masks'] = True
    return dataset_cfg


def apply_test_options(cfg: Config, out: Optional[str] = None, show_dir: Optional[str] = None,
                       tta: bool = False, show_interval: int = 1,
                       split: Optional[str] = None) -> Config:
    """mmseg's ``tools/test.py`` options on ``cfg``, with errors that say what is missing.

    ``split='train'``: score the split that gets pseudo-labels (``pseudo_label_dataloader``,
    its masks required) instead of ``test_dataloader``, as WSSS papers report CAM quality.
    ``tta``: the model is wrapped in the config's ``tta_model`` and the test images go through
    its ``tta_pipeline`` (multi-scale + flip; the segmentation configs define both).
    ``out``: the segmenter's predictions are written there as label PNGs (mmseg ``IoUMetric``'s
    ``output_dir``). ``show_dir``: true-mask and prediction
    overlays painted by the config's visualization hook into this folder, every
    ``show_interval``-th batch (mmseg's hook paints every 50th by default).
    """
    if split == 'train':
        if 'pseudo_label_dataloader' not in cfg:
            raise KeyError(f'{cfg.filename} has no pseudo_label_dataloader: --split train is '
                           'for CAM / label-generator configs')
        cfg.test_dataloader = cfg.pseudo_label_dataloader
        require_masks(cfg.test_dataloader.dataset)  # label generation needs none; scoring does
    if tta:
        missing = [k for k in ('tta_model', 'tta_pipeline') if not cfg.get(k)]
        if missing:
            raise KeyError(f'{cfg.filename}: --tta needs {" and ".join(missing)} in the config; '
                           'the segmentation configs inherit them from their dataset base '
                           '(CAM configs test at several scales through model.test_cfg)')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out:
        evaluator = cfg.test_evaluator
        if not isinstance(evaluator, dict) or not str(evaluator.get('type')).endswith('IoUMetric'):
            raise ValueError(f'{cfg.filename}: --out writes the predictions of a segmenter '
                             "(test_evaluator IoUMetric); a CAM model's label maps are written "
                             'by tools/make_pseudo_labels.py')
        evaluator.update(output_dir=out, keep_results=True)
    if show_dir:
        hook = cfg.get('default_hooks', {}).get('visualization')
        if not hook:
            raise KeyError(f'{cfg.filename}: --show-dir needs default_hooks.visualization '
                           "(dict(type='SegVisualizationHook'))")
        hook.update(draw=True, interval=show_interval)
        cfg.visualizer['save_dir'] = show_dir
    return cfg
