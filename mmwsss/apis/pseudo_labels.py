"""Run a label generator over a dataset: sharded over ranks, resumable, atomic, reported.

Each rank takes every ``world_size``-th image, skips images whose PNG already exists (so a
re-run resumes), writes each label atomically, and records failures (a corrupt image, a
missing file, an error inside the generator) instead of stopping. Rank 0 merges the
per-rank reports into ``report.json`` after all ranks finish.
"""
import contextlib
import copy
import json
import logging
import os
import os.path as osp
import shutil
import time
import warnings
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Dataset

from mmwsss.datasets.samplers import batches_by_image_size
from mmwsss.registry import DATASETS, LABEL_GENERATORS
from mmwsss.utils.interrupts import ctrl_c_deferred
from mmwsss.utils.io import (check_writable_dir, dump_json_atomic, label_file, load_json,
                             remove_stale_temp_files, save_label_png)


class SafeDataset(Dataset):
    """Wraps a dataset so that a sample that fails to load becomes an error record
    (``{'error': ..., 'img_path': ...}``) instead of an exception that kills the loader."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        idx = self.indices[i]
        try:
            return self.dataset[idx]
        except Exception as e:  # noqa: BLE001 -- reported, never swallowed
            info = self.dataset.get_data_info(idx)
            return dict(error=f'{type(e).__name__}: {e}', img_path=info.get('img_path'))


def collate_skipping_errors(batch: List[dict]) -> dict:
    good = [b for b in batch if 'error' not in b]
    out = pseudo_collate(good) if good else dict(inputs=[], data_samples=[])
    out['errors'] = [dict(img_path=b['img_path'], error=b['error']) for b in batch if 'error' in b]
    return out


def resolve_generator_cfg(cfg: Config, generator: Optional[dict] = None) -> dict:
    """The label generator's config; ``model=None`` means the config's own ``model``."""
    gen_cfg = copy.deepcopy(generator or cfg.get('label_generator'))
    if not gen_cfg:
        raise KeyError('the config has no label_generator (e.g. dict(type="CAMLabelGenerator", '
                       'model=None, checkpoint=None, bg_threshold=0.25))')
    if 'model' in gen_cfg and gen_cfg['model'] is None:
        gen_cfg['model'] = copy.deepcopy(cfg.model)
    return gen_cfg


SETTINGS_FILE = 'settings.json'
# options that do not decide the labels, at any depth of the generator config: speed
# switches, and the training-only parts of a model config (its weights come from the
# checkpoint). batch_grouping: Grounding DINO's padding moves boxes by a pixel or so, and
# batches differ on a resume anyway.
NOT_LABEL_SETTINGS = frozenset({
    'device', 'sam_encoder_batch_size', 'sam_decoder_batch_size', 'overlap_sam_encoder',
    'crf_workers',
    'batch_grouping', 'init_cfg', 'pretrained', 'train_cfg', 'loss_decode', 'loss_cls'})


def _label_relevant(node):
    """The parts of a config that decide the labels; paths of existing files as their real
    path and size (the same file named two ways is the same setting; a file rewritten at
    the same path usually is not)."""
    if isinstance(node, dict):
        return {str(k): _label_relevant(v) for k, v in node.items()
                if k not in NOT_LABEL_SETTINGS and not str(k).startswith('loss_')}
    if isinstance(node, (list, tuple)):
        return [_label_relevant(v) for v in node]
    if isinstance(node, str) and node and osp.isfile(node):
        stat = os.stat(node)
        return f'{osp.realpath(node)} ({stat.st_size} bytes, modified {int(stat.st_mtime)})'
    return node


def check_label_settings(out_dir: str, gen_cfg: dict, write: bool, labelled: bool) -> None:
    """Keep one label folder to one set of settings: its ``settings.json`` records the label
    generator's config (checkpoint and threshold included). A re-run whose settings differ
    while labels are there would skip those labels and make the rest another way, so it is
    refused, naming what differs."""
    path = osp.join(out_dir, SETTINGS_FILE)
    settings = json.loads(json.dumps(dict(label_generator=_label_relevant(gen_cfg)),
                                     default=str))
    if labelled and osp.isfile(path):
        before = load_json(path, 'label settings', 'delete it if the labels in that folder '
                           'are the ones you want to keep')
        changed = _differences(before, settings)
        if changed:
            raise ValueError(
                f'{out_dir} holds labels made with other settings ({path}): '
                + '; '.join(changed[:6]) + '. A re-run would keep those labels and make the '
                'others with the new settings: go back to the old settings, write to a new '
                '--out folder, or delete the labels there to make them all again')
    if labelled and not osp.isfile(path):
        warnings.warn(f'{out_dir} holds labels but no {SETTINGS_FILE}: which settings made them '
                      'cannot be checked; they are kept, and the folder is recorded as made '
                      'with the present settings')
    if write:
        dump_json_atomic(settings, path)


def _differences(before, now, key: str = '') -> List[str]:
    """``'key: before -> now'`` for every leaf that differs between two JSON trees."""
    if isinstance(before, dict) and isinstance(now, dict):
        return [d for k in sorted(set(before) | set(now), key=str)
                for d in _differences(before.get(k), now.get(k), f'{key}.{k}' if key else k)]
    return [] if before == now else [f'{key}: {before!r} -> {now!r}']


@contextlib.contextmanager
def _removed_if_failed_empty(folder: str, created: bool):
    """A label folder this run created is removed again if the run fails before writing a
    label in it (a missing checkpoint, say), so no empty folder is left behind."""
    try:
        yield
    except BaseException:
        if created and osp.isdir(folder) and set(os.listdir(folder)) <= {SETTINGS_FILE}:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def apply_label_options(gen_cfg: dict, checkpoint: Optional[str] = None,
                        bg_threshold: Optional[float] = None, metrics: Optional[str] = None,
                        crf: bool = False) -> dict:
    """``tools/make_pseudo_labels.py``'s options on a ``label_generator`` config, in place.

    ``checkpoint``: the model's; ``metrics``: a ``tools/test.py --out-metrics`` JSON whose
    best ``bg_threshold`` is used; ``bg_threshold`` (0..1) overrides it; ``crf``: refine with
    a dense CRF. An option the generator has no parameter for (a background threshold for
    Grounded-SAM, whose thresholds are on boxes) is an error naming it.
    """
    _check_options_apply(gen_cfg, checkpoint=checkpoint,
                         bg_threshold=bg_threshold if metrics is None else metrics,
                         crf=crf or None)
    if checkpoint:
        gen_cfg['checkpoint'] = checkpoint
    if metrics:
        best = load_json(metrics, '--metrics', 'write it with tools/test.py --out-metrics')
        if 'bg_threshold' not in best:
            raise KeyError(f"{metrics} has no 'bg_threshold' (write it with tools/test.py "
                           '--out-metrics on a CAM config, or give --bg-threshold)')
        gen_cfg['bg_threshold'] = float(best['bg_threshold'])
    if bg_threshold is not None:
        if not 0 <= bg_threshold <= 1:
            raise ValueError(f'--bg-threshold {bg_threshold}: CAMs are normalised to 0..1, so '
                             'the threshold lies in 0..1')
        gen_cfg['bg_threshold'] = bg_threshold
    if crf:
        gen_cfg['crf'] = gen_cfg.get('crf') or dict()
        if metrics or bg_threshold is not None:
            warnings.warn('--crf labels with the CRF background (1 - max CAM) ** alpha; the '
                          'background threshold of --metrics / --bg-threshold is not used')
    return gen_cfg


def _check_options_apply(gen_cfg: dict, **given) -> None:
    """Options that set a parameter the config's generator does not have are an error
    naming them."""
    import inspect
    cls = LABEL_GENERATORS.get(gen_cfg['type'])
    if cls is None:
        return
    params = inspect.signature(cls.__init__).parameters
    flags = dict(checkpoint='CKPT', bg_threshold='--bg-threshold / --metrics', crf='--crf')
    wrong = [flags[k] for k, v in given.items() if v is not None and k not in params]
    if wrong:
        raise ValueError(f'{", ".join(wrong)}: {cls.__name__} has no such setting; see its '
                         'label_generator in the config for what it takes')


def generate_pseudo_labels(cfg: Config,
                           out_dir: str,
                           generator: Optional[dict] = None,
                           batch_size: int = 1,
                           num_workers: int = 2,
                           overlay_dir: Optional[str] = None,
                           num_overlays: int = 8) -> Dict:
    """Write one palette PNG per image of ``cfg.pseudo_label_dataloader.dataset``.

    Args:
        cfg: a config with ``pseudo_label_dataloader`` (dataset with the test pipeline over
            the split to label) and ``label_generator`` (a ``LABEL_GENERATORS`` config).
        out_dir: label folder; existing PNGs are kept and their images skipped.
        generator: overrides ``cfg.label_generator``.
        overlay_dir: if set, CAM heatmaps and label overlays of the first ``num_overlays``
            images this rank labels are written there.
    Returns:
        the merged report (on rank 0; this rank's report elsewhere).
    """
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    rank, world_size = get_dist_info()
    created = not osp.isdir(out_dir)
    _check_output_dirs(out_dir, overlay_dir)  # before any model is built
    with _removed_if_failed_empty(out_dir, created and rank == 0):
        dataset, targets, mine, todo, gen = _prepare_run(cfg, out_dir, generator, rank,
                                                         world_size)
    skipped = len(mine) - len(todo)
    palette = dataset.metainfo.get('palette')
    path_of = {dataset.get_data_info(i)['img_path']: targets[i] for i in todo}
    writer = LabelWriter(lambda ds, label: _check_label(label, ds, gen),
                         lambda ds: path_of[ds.img_path], palette)
    t0 = time.time()
    try:  # from here on the generator (its CRF workers) and the writer are closed however
        old_report = osp.join(out_dir, 'report.json')
        if rank == 0 and osp.isfile(old_report):  # a finished run's; an interrupted one has none
            os.remove(old_report)
        loader = _label_loader(dataset, todo, gen, batch_size, num_workers)
        with _cudnn_benchmark(cfg):
            failures = _label_batches(
                gen, loader, writer, rank == 0 and len(todo), overlay_dir,
                num_overlays if overlay_dir else 0, palette,
                lambda ds: osp.splitext(osp.relpath(path_of[ds.img_path], out_dir))[0])
    except KeyboardInterrupt as interrupt:  # Ctrl-C: finish the labels made, say how to go on
        gen.close(cancel=True)  # labels not begun (CRFs queued) are left to the re-run
        writer.close()
        print_log(f'\n[rank {rank}] interrupted: {writer.written} labels written by this run, '
                  f'{skipped} there before, {len(todo) - writer.written} to do; run the same '
                  'command again to label the rest', logger='current', level=logging.WARNING)
        interrupt.reported = True  # run_main need not say it again
        raise
    finally:
        writer.close()
        gen.close()
    failures += writer.failures
    rank_report = dict(rank=rank, assigned=len(mine), skipped_existing=skipped,
                       written=writer.written, failed=len(failures), failures=failures,
                       seconds=round(time.time() - t0, 2),
                       generator=gen.report() if hasattr(gen, 'report') else {})
    dump_json_atomic(rank_report, osp.join(out_dir, f'.report_rank{rank}.json'))
    if world_size > 1:
        barrier()
    if rank != 0:
        return rank_report
    report = _merge_reports(out_dir, world_size, len(dataset))
    _log_report(report, out_dir)
    return report


@contextlib.contextmanager
def _cudnn_benchmark(cfg: Config):
    """The config's ``env_cfg.cudnn_benchmark`` while labelling, as the Runner would set it
    (False in the mmwsss configs: images of many sizes), then the value from before."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def _check_output_dirs(out_dir: str, overlay_dir: Optional[str]) -> None:
    check_writable_dir(out_dir, 'pseudo-label folder')
    if overlay_dir:
        if osp.realpath(overlay_dir) == osp.realpath(out_dir):  # overlays would be labels
            raise ValueError(f'the overlay folder {overlay_dir} is the label folder: give '
                             '--overlay-dir another folder')
        check_writable_dir(overlay_dir, 'overlay folder')


def _prepare_run(cfg: Config, out_dir: str, generator: Optional[dict], rank: int,
                 world_size: int) -> tuple:
    """The dataset, every image's label file, this rank's images (all, and those without a
    label yet) and the generator; the folder's settings checked, temp files of an
    interrupted run cleared."""
    # test_mode: a sample that fails raises instead of being swapped for another image
    dataset = DATASETS.build(dict(cfg.pseudo_label_dataloader.dataset, test_mode=True))
    if rank == 0:  # before any rank writes: temp files of an interrupted run
        stale = remove_stale_temp_files(out_dir)
        if stale:
            print_log(f'removed {stale} temp files an interrupted run left in {out_dir}',
                      logger='current')
    if world_size > 1:
        barrier()
    mine = range(rank, len(dataset), world_size)
    targets = _label_targets(dataset, out_dir)
    # an empty file is what a crash between write and disk flush can leave: redo it
    todo = [i for i in mine if not (osp.isfile(targets[i]) and osp.getsize(targets[i]))]
    gen_cfg = resolve_generator_cfg(cfg, generator)
    check_label_settings(out_dir, gen_cfg, write=rank == 0,
                         labelled=any(osp.isfile(t) for t in targets.values()))
    print_log(f'[rank {rank}/{world_size}] {len(mine)} images, {len(mine) - len(todo)} already '
              f'labelled, {len(todo)} to do -> {out_dir}', logger='current')
    return dataset, targets, mine, todo, LABEL_GENERATORS.build(gen_cfg)


def _label_loader(dataset, todo: List[int], gen, batch_size: int,
                  num_workers: int) -> DataLoader:
    """The images to label in batches as the generator takes them best: one size, or one
    orientation (``batch_grouping``); a bad image becomes an error entry, not a crash."""
    batches = [[i] for i in range(len(todo))]
    if batch_size > 1:
        batches = batches_by_image_size([dataset.get_data_info(i)['img_path'] for i in todo],
                                        range(len(todo)), batch_size,
                                        getattr(gen, 'batch_grouping', 'size'))
    return DataLoader(SafeDataset(dataset, todo), batch_sampler=batches,
                      num_workers=num_workers, collate_fn=collate_skipping_errors,
                      persistent_workers=False, pin_memory=torch.cuda.is_available())


def _log_report(report: dict, out_dir: str) -> None:
    print_log(f'pseudo-labels: {report["written"]} written, {report["skipped_existing"]} already '
              f'there, {report["failed"]} failed of {report["total"]} -> {out_dir}',
              logger='current')
    for f in report['failures'][:20]:
        print_log(f'  failed: {f["img_path"]}: {f["error"]}', logger='current')
    fallback = report['generator'].get('fallback')
    if fallback is not None:  # e.g. Grounded-SAM: images where no box passed
        print_log(f'{fallback} of {report["written"]} labels came from the fallback (no '
                  'detection)', logger='current',
                  level=logging.WARNING if fallback > report['written'] / 2 else logging.INFO)


def _label_targets(dataset, out_dir: str) -> Dict[int, str]:
    """The label file of every image of ``dataset``, one file per image (an id listed twice
    would be labelled, and scored, twice)."""
    targets = {i: label_file(out_dir, dataset.get_data_info(i)) for i in range(len(dataset))}
    repeated = [p for p, k in Counter(targets.values()).items() if k > 1]
    if repeated:
        raise ValueError(f'{len(repeated)} label files would be written for more than one '
                         f'image of the split, e.g. {repeated[:3]}: its split file lists an '
                         'image id twice')
    return targets


def _label_batches(gen, loader, writer: 'LabelWriter', progress_total: int,
                   overlay_dir: Optional[str], overlays_left: int, palette,
                   overlay_name: Optional[Callable] = None) -> List[dict]:
    """Label every batch of ``loader`` into ``writer`` (with a progress bar of
    ``progress_total`` images if nonzero, and the first overlays, named by
    ``overlay_name(data_sample)``); returns the failures."""
    failures = []
    progress = ProgressBar(progress_total) if progress_total else None
    for batch in loader:
        errors = batch.pop('errors')
        failures += errors
        samples = batch['data_samples']
        if samples:
            labels, cams = _generate_or_isolate(gen, batch, failures)
            for ds, label in zip(samples, labels):
                if label is not None:
                    writer.submit(ds, label)
            if overlays_left > 0 and any(lab is not None for lab in labels):
                overlays_left -= _write_overlays(overlay_dir, samples, labels, cams, palette,
                                                 overlays_left, overlay_name)
        if progress is not None:
            for _ in range(len(samples) + len(errors)):
                progress.update()
    return failures


class LabelWriter:
    """Checks and writes label PNGs on background threads, so that PNG encoding and disk I/O
    overlap the generator's work on the next batch (the GPU does not wait for the disk).

    A label may be the ``Future`` of one still being made (``BaseLabelGenerator.submit``);
    it is written once done. At most ``max_pending`` labels wait in memory: ``submit`` blocks
    on the oldest write beyond that, so memory stays flat over a long run. A label that fails
    its check or its write is recorded in ``failures`` (with the image path); nothing stops
    the run. Each PNG is written atomically, so an interrupted run leaves only complete files.

    Args:
        check: ``check(data_sample, label)`` raises if the label is wrong for the image.
        target: ``target(data_sample)`` is the PNG path of the image's label
            (``mmwsss.utils.label_file``).
        palette: colours of the palette PNGs.
    """

    def __init__(self, check: Callable, target: Callable, palette: Optional[Sequence] = None,
                 num_threads: int = 2, max_pending: int = 64) -> None:
        self.check, self.target, self.palette = check, target, palette
        self.max_pending = max_pending
        self.pool = ThreadPoolExecutor(num_threads, thread_name_prefix='label-writer')
        self.pending: deque = deque()
        self.written = 0
        self.failures: List[dict] = []

    def _write(self, ds, label: Union[np.ndarray, Future]) -> None:
        if isinstance(label, Future):  # still being made (a CRF on a worker process)
            label = label.result()
        self.check(ds, label)
        save_label_png(label, self.target(ds), self.palette)

    def submit(self, ds, label: Union[np.ndarray, Future]) -> None:
        while len(self.pending) >= self.max_pending:
            self._collect_oldest()
        with ctrl_c_deferred():  # a write begun is a write queued
            self.pending.append((ds.img_path, self.pool.submit(self._write, ds, label)))

    def _collect_oldest(self) -> None:
        """Wait for the oldest pending write and count it. It leaves ``pending`` only once
        done, so a Ctrl-C during the wait leaves it there for ``close`` to count: ``written``
        stays the number of PNGs on disk."""
        img_path, future = self.pending[0]
        error = future.exception()  # waits
        with ctrl_c_deferred():  # off the queue means counted
            self.pending.popleft()
            if error is None:
                self.written += 1
            else:  # reported, never swallowed
                self.failures.append(dict(img_path=img_path,
                                          error=f'{type(error).__name__}: {error}'))

    def close(self) -> None:
        """Wait for every pending write."""
        while self.pending:
            self._collect_oldest()
        self.pool.shutdown(wait=True)


def _generate_or_isolate(gen, batch: dict, failures: List[dict]) -> tuple:
    """Labels (None where it failed; a ``Future`` where it is still being made) and CAMs
    of a batch. If the batch fails, each image is tried alone, so one bad image (an error
    inside the generator) costs only itself; its error is recorded in ``failures`` with its
    path."""
    samples = batch['data_samples']
    try:
        labels = gen.submit(batch)
        return labels, gen.last_cams or [None] * len(labels)
    except Exception as e:  # noqa: BLE001 -- one bad batch must not stop the run
        if len(samples) == 1:
            failures.append(dict(img_path=samples[0].img_path,
                                 error=f'{type(e).__name__}: {e}'))
            return [None], [None]
    labels, cams = [], []
    for img, ds in zip(batch['inputs'], samples):
        label, cam = _generate_or_isolate(gen, dict(inputs=[img], data_samples=[ds]), failures)
        labels += label
        cams += cam
    return labels, cams


def _check_label(label: np.ndarray, ds, gen) -> None:
    """A generated label must be 2-D at image size and use only present classes."""
    ori = tuple(ds.metainfo['ori_shape'][:2])
    if label.shape != ori:
        raise ValueError(f'label of shape {label.shape} for an image of size {ori}')
    allowed = set(gen.present_classes(ds)) | {0, 255}
    extra = set(np.unique(label).tolist()) - allowed
    if extra:
        raise ValueError(f'label has classes {sorted(extra)} absent from the image-level label')


def _merge_reports(out_dir: str, world_size: int, total: int) -> Dict:
    report = dict(total=total, written=0, skipped_existing=0, failed=0, failures=[], ranks=[],
                  generator={})
    for r in range(world_size):
        path = osp.join(out_dir, f'.report_rank{r}.json')
        with open(path) as f:
            part = json.load(f)
        for k in ('written', 'skipped_existing', 'failed'):
            report[k] += part[k]
        for k, v in part.get('generator', {}).items():  # counts the generator reports
            report.setdefault('generator', {})[k] = report['generator'].get(k, 0) + v
        report['failures'] += part['failures']
        report['ranks'].append({k: part[k] for k in ('rank', 'assigned', 'written', 'seconds')})
    dump_json_atomic(report, osp.join(out_dir, 'report.json'))
    for r in range(world_size):  # merged: the per-rank parts are not left in the label folder
        os.remove(osp.join(out_dir, f'.report_rank{r}.json'))
    return report


def _write_overlays(overlay_dir, samples, labels, cams, palette, budget: int,
                    name_of: Optional[Callable] = None) -> int:
    """Pictures of the first ``budget`` labelled images, named as their labels (an id
    ``a/x`` gives ``a/x.png``, so images of one file name in two folders keep both)."""
    from mmwsss.visualization import save_cam_and_label_overlay
    n = 0
    for ds, label, cam in zip(samples, labels, cams or [None] * len(labels)):
        if n >= budget:
            break
        if isinstance(label, Future):  # its failure, if any, is the writer's to report
            label = None if label.exception() else label.result()
        if label is None:
            continue
        gt = ds.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in ds else None
        save_cam_and_label_overlay(ds.img_path, label, cam, palette, overlay_dir, gt,
                                   name_of(ds) if name_of else None)
        n += 1
    return n
