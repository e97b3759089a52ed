"""Label writing: values, resume, atomicity, bad inputs, sharding over ranks."""
import json
import os
import os.path as osp
import shutil
import time

import numpy as np
import pytest

from conftest import (CAM_CFG, ROOT, SEG_PL_CFG, as_cli, captured_log, load_cfg, run_tool,
                      tiny_overrides)
from mmwsss.apis import generate_pseudo_labels
from mmwsss.utils.io import load_label_png, save_label_png


def _names(root):
    return open(osp.join(root, 'ImageSets/Segmentation/train_aug.txt')).read().split()


def _cfg(root, ckpt, **gen):
    cfg = load_cfg(CAM_CFG, tiny_overrides(root))
    cfg.label_generator.checkpoint = ckpt
    cfg.label_generator.update(gen)
    return cfg


def test_labels_are_written_with_only_present_classes(tiny_voc, tiny_cam, tmp_path):
    out = str(tmp_path / 'labels')
    report = generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], bg_threshold=0.0), out,
                                    num_workers=0, overlay_dir=str(tmp_path / 'ov'),
                                    num_overlays=3)
    names = _names(tiny_voc)
    labels = json.load(open(osp.join(tiny_voc, 'cls_labels.json')))
    assert report['written'] == len(names) and report['failed'] == 0
    for n in names:
        lab = load_label_png(osp.join(out, n + '.png'))
        assert lab.shape == (64, 64)
        assert set(np.unique(lab).tolist()) <= set(labels[n]) | {0}
    # threshold 0: every pixel with any activation of a present class is foreground
    assert any((load_label_png(osp.join(out, n + '.png')) > 0).any() for n in names)
    # labels, the run's report and settings; no temp files, no per-rank report parts
    assert sorted(f for f in os.listdir(out) if not f.endswith('.png')) == [
        'report.json', 'settings.json']
    assert len(os.listdir(tmp_path / 'ov')) == 3


def test_rerun_resumes_and_keeps_finished_files(tiny_voc, tiny_cam, tmp_path):
    out = str(tmp_path / 'labels')
    cfg = _cfg(tiny_voc, tiny_cam[1])
    generate_pseudo_labels(cfg, out, num_workers=0)
    names = _names(tiny_voc)
    keep = osp.join(out, names[0] + '.png')
    os.utime(keep, (1, 1))  # mark: a re-run must not rewrite it
    os.remove(osp.join(out, names[5] + '.png'))  # as if interrupted before this one
    report = generate_pseudo_labels(cfg, out, num_workers=0)
    assert report['written'] == 1 and report['skipped_existing'] == len(names) - 1
    assert os.stat(keep).st_mtime == 1
    assert osp.isfile(osp.join(out, names[5] + '.png'))


def test_corrupt_image_is_reported_and_skipped(tiny_voc, tiny_cam, tmp_path):
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    bad = _names(root)[4]
    with open(osp.join(root, 'JPEGImages', bad + '.jpg'), 'wb') as f:
        f.write(b'not a jpeg at all')
    out = str(tmp_path / 'labels')
    report = generate_pseudo_labels(_cfg(root, tiny_cam[1]), out, num_workers=0)
    assert report['failed'] == 1 and report['written'] == len(_names(root)) - 1
    assert bad in report['failures'][0]['img_path']
    assert not osp.exists(osp.join(out, bad + '.png'))
    assert json.load(open(osp.join(out, 'report.json')))['failed'] == 1
    # the tool writes the rest too, and its exit status tells a script that one failed
    proc = run_tool('tools/make_pseudo_labels.py', CAM_CFG, tiny_cam[1], '--out',
                    str(tmp_path / 'tool'), *as_cli(tiny_overrides(root)), check=False)
    assert proc.returncode == 1 and '1 images could not be labelled' in proc.stderr
    assert len([f for f in os.listdir(tmp_path / 'tool') if f.endswith('.png')]) == len(
        _names(root)) - 1


def test_missing_checkpoint_is_a_clear_error(tiny_voc, tiny_cam, tmp_path):
    with pytest.raises(FileNotFoundError, match='no_such.pth'):
        generate_pseudo_labels(_cfg(tiny_voc, str(tmp_path / 'no_such.pth')), str(tmp_path / 'o'),
                               num_workers=0)
    with pytest.raises(FileNotFoundError, match='needs the trained model: pass its checkpoint'):
        generate_pseudo_labels(_cfg(tiny_voc, None), str(tmp_path / 'o'), num_workers=0)
    assert not osp.exists(tmp_path / 'o')  # the folder the failed run made is gone again
    # a truncated download: named, instead of PytorchStreamReader's bare error
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(tiny_cam[1], 'rb').read()[:50000])
    with pytest.raises(ValueError, match='truncated.pth is truncated or damaged'):
        generate_pseudo_labels(_cfg(tiny_voc, str(truncated)), str(tmp_path / 'o'),
                               num_workers=0)


def test_a_checkpoint_of_another_model_is_refused(tiny_voc, tiny_cam, tmp_path):
    """Its missing weights would stay random: labels, scores and pictures from noise."""
    import torch
    from mmwsss.apis import init_cam_model
    ckpt = torch.load(tiny_cam[1], map_location='cpu', weights_only=False)
    full = ckpt['state_dict']
    # BatchNorm step counters are not weights: checkpoints of other code bases lack them
    ckpt['state_dict'] = {k: v for k, v in full.items() if 'num_batches_tracked' not in k}
    torch.save(ckpt, str(tmp_path / 'no_counters.pth'))
    model = init_cam_model(load_cfg(CAM_CFG, {}), str(tmp_path / 'no_counters.pth'))
    assert torch.equal(model.state_dict()['head.classifier.weight'],
                       full['head.classifier.weight'])
    ckpt['state_dict'] = {k: v for k, v in full.items() if not k.startswith('head.')}
    other = str(tmp_path / 'other_model.pth')
    torch.save(ckpt, other)
    with pytest.raises(ValueError, match=r'other_model.pth does not fit .* missing \(e.g. head'):
        generate_pseudo_labels(_cfg(tiny_voc, other), str(tmp_path / 'o'), num_workers=0)
    proc = run_tool('tools/test.py', CAM_CFG, other, '--split', 'train', '--work-dir',
                    str(tmp_path / 'w'), *as_cli(tiny_overrides(tiny_voc)), check=False)
    assert proc.returncode != 0 and 'other_model.pth does not fit' in proc.stderr
    proc = run_tool('tools/cam_demo.py', osp.join(tiny_voc, 'JPEGImages', 'syn_train_00000.jpg'),
                    '--config', CAM_CFG, '--checkpoint', other, '--out-dir',
                    str(tmp_path / 'demo'), check=False)
    assert proc.returncode != 0 and 'other_model.pth does not fit' in proc.stderr


def test_a_label_folder_keeps_one_set_of_settings(tiny_voc, tiny_cam, tmp_path):
    out = str(tmp_path / 'labels')
    names = _names(tiny_voc)
    generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], bg_threshold=0.5), out, num_workers=0)
    assert json.load(open(osp.join(out, 'settings.json')))['label_generator'][
        'bg_threshold'] == 0.5
    os.remove(osp.join(out, names[2] + '.png'))  # an interrupted run
    # resumed with another threshold: the folder would mix two thresholds
    with pytest.raises(ValueError, match=r'label_generator.bg_threshold: 0.5 -> 0.9'):
        generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], bg_threshold=0.9), out,
                               num_workers=0)
    assert not osp.isfile(osp.join(out, names[2] + '.png'))
    # the same settings, the checkpoint named another way, another batch size and device:
    # resumed
    report = generate_pseudo_labels(
        _cfg(tiny_voc, osp.relpath(tiny_cam[1]), bg_threshold=0.5, device='cpu'), out,
        batch_size=4, num_workers=0)
    assert report['written'] == 1
    # labels without settings.json (a folder made before it existed): kept, with a warning
    os.remove(osp.join(out, 'settings.json'))
    with pytest.warns(UserWarning, match='holds labels but no settings.json'):
        generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], bg_threshold=0.5), out, num_workers=0)
    # an emptied folder takes new settings
    for n in names:
        os.remove(osp.join(out, n + '.png'))
    report = generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], bg_threshold=0.9), out,
                                    num_workers=0)
    assert report['written'] == len(names)


def test_an_unwritable_label_folder_fails_before_any_model_is_built(tiny_voc, tmp_path):
    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS
    built = []

    @LABEL_GENERATORS.register_module(force=True)
    class RecordsBuildTestGenerator(BaseLabelGenerator):
        def __init__(self, **kw):
            built.append(1)
            super().__init__(**kw)

        def generate(self, data_batch):
            return [np.zeros(img.shape[-2:], np.uint8) for img in data_batch['inputs']]

    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    cfg = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    with pytest.raises(PermissionError, match='pseudo-label folder .*a_file/labels is not '
                                              'writable'):
        generate_pseudo_labels(cfg, str(blocker / 'labels'),
                               dict(type='RecordsBuildTestGenerator'), num_workers=0)
    with pytest.raises(ValueError, match='is the label folder'):  # overlays would be labels
        generate_pseudo_labels(cfg, str(tmp_path / 'ok'), dict(type='RecordsBuildTestGenerator'),
                               num_workers=0, overlay_dir=str(tmp_path / 'ok'))
    with pytest.raises(PermissionError, match='overlay folder'):
        generate_pseudo_labels(cfg, str(tmp_path / 'ok'), dict(type='RecordsBuildTestGenerator'),
                               num_workers=0, overlay_dir=str(blocker / 'overlays'))
    assert not built


def test_label_runs_follow_the_configs_cudnn_benchmark(tiny_voc, tmp_path):
    """A label run autotunes cuDNN as the config's ``env_cfg`` says (off by default: many image
    sizes), like a Runner would, and leaves the value from before it."""
    import torch

    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS
    seen = []

    @LABEL_GENERATORS.register_module(force=True)
    class RecordsCudnnTestGenerator(BaseLabelGenerator):
        def generate(self, data_batch):
            seen.append(torch.backends.cudnn.benchmark)
            return [np.zeros(img.shape[-2:], np.uint8) for img in data_batch['inputs']]

    gen = dict(type='RecordsCudnnTestGenerator')
    for value in (True, False):
        torch.backends.cudnn.benchmark = not value
        cfg = load_cfg(CAM_CFG, {**tiny_overrides(tiny_voc), 'env_cfg.cudnn_benchmark': value})
        seen.clear()
        generate_pseudo_labels(cfg, str(tmp_path / str(value)), gen, num_workers=0)
        assert seen and set(seen) == {value}
        assert torch.backends.cudnn.benchmark is (not value)
    torch.backends.cudnn.benchmark = False


# Slurm's srun and scontrol on one machine: --ntasks=N copies of the command, each with the
# SLURM_* variables a task gets; scontrol names the first node of the list.
FAKE_SRUN = """#!/usr/bin/env bash
n=1
while [ $# -gt 0 ]; do
  case "$1" in -p) shift 2;; --ntasks=*) n="${1#*=}"; shift;; -*) shift;; *) break;; esac
done
pids=()
for ((i = 0; i < n; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$n SLURM_NODELIST=localhost "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
"""
FAKE_SCONTROL = '#!/usr/bin/env bash\necho "$3"\n'


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_two_ranks_shard_the_images(launcher, tiny_voc, tiny_cam, tmp_path):
    """The README's commands: tools/dist_pseudo_labels.sh CONFIG GPUS CKPT --out DIR and
    tools/slurm_pseudo_labels.sh PARTITION JOB CONFIG CKPT --out DIR (here 2 CPU processes,
    gloo; srun played by a script), into a folder whose name has a space."""
    import subprocess
    import sys
    out = str(tmp_path / 'pseudo labels')
    args = [tiny_cam[1], '--out', out, '--num-workers', '0', *as_cli(tiny_overrides(tiny_voc))]
    env = dict(os.environ, PYTHON=sys.executable)
    if launcher == 'pytorch':
        cmd = ['bash', 'tools/dist_pseudo_labels.sh', CAM_CFG, '2', *args]
        env['PORT'] = '29611'
    else:
        bin_dir = tmp_path / 'bin'
        bin_dir.mkdir()
        for name, text in (('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL)):
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        cmd = ['bash', 'tools/slurm_pseudo_labels.sh', 'gpu', 'labels', CAM_CFG, *args]
        env.update(PATH=f'{bin_dir}{os.pathsep}{env["PATH"]}', GPUS='2', GPUS_PER_NODE='2',
                   MASTER_PORT='29612')
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.load(open(osp.join(out, 'report.json')))
    names = _names(tiny_voc)
    assert report['written'] == len(names) and report['failed'] == 0
    assert sorted(r['written'] for r in report['ranks']) == [len(names) // 2] * 2
    assert sorted(f[:-4] for f in os.listdir(out) if f.endswith('.png')) == sorted(names)


def test_eval_labels_tool_scores_ground_truth_as_perfect(tiny_voc, tmp_path):
    metrics = str(tmp_path / 'm.json')
    run_tool('tools/eval_labels.py', CAM_CFG, osp.join(tiny_voc, 'SegmentationClassAug'),
             '--out-metrics', metrics, *as_cli(tiny_overrides(tiny_voc)))
    m = json.load(open(metrics))
    assert m['mIoU'] == pytest.approx(100.0) and m['labelled'] == pytest.approx(100.0)
    assert m['IoU']['background'] == pytest.approx(100.0)  # percent, like mIoU


def test_label_scoring_names_the_file_with_out_of_range_values(tiny_voc, tmp_path):
    """A value outside the classes in a pseudo-label or in a mask is named with its file
    (which of the two), not a bare 'label values must be in ...'."""
    from mmwsss.evaluation.label_dir import evaluate_label_dir
    from mmwsss.registry import DATASETS
    root, labels = str(tmp_path / 'voc'), str(tmp_path / 'labels')
    shutil.copytree(tiny_voc, root)
    shutil.copytree(osp.join(root, 'SegmentationClassAug'), labels)
    names = _names(root)
    cfg = load_cfg(CAM_CFG, tiny_overrides(root))
    dataset = DATASETS.build(cfg.pseudo_label_dataloader.dataset)
    bad = load_label_png(osp.join(labels, names[1] + '.png')).copy()
    bad[0, 0] = 30
    save_label_png(bad, osp.join(labels, names[1] + '.png'))
    with pytest.raises(ValueError, match=f'labels/{names[1]}.png holds values \\[30\\]'):
        evaluate_label_dir(labels, dataset)
    save_label_png(bad, osp.join(root, 'SegmentationClassAug', names[0] + '.png'))
    with pytest.raises(ValueError, match=f'SegmentationClassAug/{names[0]}.png holds values'):
        evaluate_label_dir(labels, dataset)


def test_label_writer_bounds_pending_writes_and_reports_failures(tmp_path):
    from types import SimpleNamespace

    from mmwsss.apis.pseudo_labels import LabelWriter

    def check(ds, label):
        if label.max() > 3:
            raise ValueError('class 4 is not in the image-level label')

    def target(ds):
        return str(tmp_path / osp.basename(ds.img_path).replace('.jpg', '.png'))

    writer = LabelWriter(check, target, max_pending=2)
    for i in range(6):
        writer.submit(SimpleNamespace(img_path=f'/data/img{i}.jpg'),
                      np.full((4, 5), i, np.uint8))
        assert len(writer.pending) <= 2  # memory stays flat: older writes are waited for
    writer.close()
    assert writer.written == 4
    assert [f['img_path'] for f in writer.failures] == ['/data/img4.jpg', '/data/img5.jpg']
    assert 'class 4' in writer.failures[0]['error']
    for i in range(4):
        assert (load_label_png(str(tmp_path / f'img{i}.png')) == i).all()
    assert not osp.exists(tmp_path / 'img4.png')
    assert not [f for f in os.listdir(tmp_path) if f.startswith('.tmp-')]


def test_label_writer_counts_a_write_a_ctrl_c_interrupted_the_wait_for(tmp_path):
    """A Ctrl-C while ``submit`` waits for the oldest write: ``close`` still counts that
    write, so the run's 'N labels written' is the number of PNGs on disk."""
    import signal
    import threading
    from concurrent.futures import Future
    from types import SimpleNamespace

    from mmwsss.apis.pseudo_labels import LabelWriter

    writer = LabelWriter(lambda ds, label: None,
                         lambda ds: str(tmp_path / (ds.img_path + '.png')), max_pending=1)
    crf = Future()  # a label still being made on a worker process
    writer.submit(SimpleNamespace(img_path='a'), crf)

    def ctrl_c_then_crf_done():
        time.sleep(0.3)  # the main thread waits for image a's write
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        time.sleep(0.3)
        crf.set_result(np.ones((4, 5), np.uint8))

    threading.Thread(target=ctrl_c_then_crf_done).start()
    with pytest.raises(KeyboardInterrupt):
        writer.submit(SimpleNamespace(img_path='b'), np.zeros((4, 5), np.uint8))
    writer.close()
    on_disk = [f for f in os.listdir(tmp_path) if f.endswith('.png')]
    assert on_disk == ['a.png'] and writer.written == 1 and not writer.failures


def test_tools_name_what_is_wrong_with_their_arguments(tiny_voc, tiny_cam, tmp_path):
    metrics = tmp_path / 'm.json'
    metrics.write_text('{"mIoU": 50.0}')
    proc = run_tool('tools/make_pseudo_labels.py', CAM_CFG, tiny_cam[1], '--out',
                    str(tmp_path / 'o'), '--metrics', str(metrics),
                    *as_cli(tiny_overrides(tiny_voc)), check=False)
    assert proc.returncode != 0 and "m.json has no 'bg_threshold'" in proc.stderr
    metrics.write_text('{"bg_threshold": 0.3')
    proc = run_tool('tools/make_pseudo_labels.py', CAM_CFG, tiny_cam[1], '--out',
                    str(tmp_path / 'o'), '--metrics', str(metrics), check=False)
    assert proc.returncode != 0 and 'm.json is not valid JSON' in proc.stderr
    proc = run_tool('tools/make_pseudo_labels.py', CAM_CFG, tiny_cam[1], '--out',
                    str(tmp_path / 'o'), '--bg-threshold', '5', check=False)
    assert proc.returncode != 0 and '--bg-threshold 5.0' in proc.stderr
    # two configs of the same file name would share a work dir (and one's checkpoint)
    proc = run_tool('tools/compare_cam_methods.py', 'a/cam.py', 'b/cam.py', check=False)
    assert proc.returncode == 2 and 'same file name (cam)' in proc.stderr
    # a metrics file that could not be written is named before the evaluation, not after it
    metrics.write_text('{}')
    proc = run_tool('tools/eval_labels.py', CAM_CFG, str(tmp_path / 'labels'),
                    '--out-metrics', str(metrics / 'x.json'), check=False)
    assert proc.returncode != 0 and '--out-metrics folder' in proc.stderr
    assert 'pseudo-label' not in proc.stderr  # it stopped before looking at the labels
    # image-level labels from masks need the class count, or a bad mask value becomes a class
    proc = run_tool('tools/make_image_labels.py', tiny_voc, '--out', str(tmp_path / 'c.json'),
                    check=False)
    assert proc.returncode == 2 and '--num-classes' in proc.stderr
    assert not osp.exists(tmp_path / 'c.json')


def test_batches_hold_images_of_one_size(tmp_path):
    from PIL import Image

    from mmwsss.datasets import batches_by_image_size
    sizes = [(5, 4), (3, 3), (5, 4), (4, 5), (3, 3), (5, 4), None, (5, 4, 'rotated')]
    paths = []
    for i, size in enumerate(sizes):
        path = str(tmp_path / f'{i}.jpg')
        if size is None:
            open(path, 'wb').write(b'not an image')
        else:
            img = Image.new('RGB', size[:2])
            exif = img.getexif()
            if len(size) == 3:
                exif[0x0112] = 6  # EXIF orientation: decoded turned by 90 degrees, i.e. 4x5
            img.save(path, exif=exif)
        paths.append(path)
    batches = batches_by_image_size(paths, [10 + i for i in range(len(paths))], batch_size=2)
    # one size per batch (the decoded size), the largest group first, each group in its
    # original order, the unreadable file last
    assert batches == [[10, 12], [15], [11, 14], [13, 17], [16]]
    # by orientation (generators that pad, e.g. Grounding DINO): full batches of one
    # orientation, sizes sorted within it
    assert batches_by_image_size(paths, [10 + i for i in range(len(paths))], batch_size=3,
                                 group_by='orientation') == [[11, 14, 10], [12, 15], [13, 17],
                                                             [16]]
    with pytest.raises(ValueError, match='group_by'):
        batches_by_image_size(paths, range(len(paths)), 2, group_by='aspect')


def test_an_image_that_breaks_the_generator_costs_only_itself(tiny_voc, tmp_path):
    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS
    bad = _names(tiny_voc)[5]

    @LABEL_GENERATORS.register_module(force=True)
    class BreaksOnOneImageTestGenerator(BaseLabelGenerator):
        def generate(self, data_batch):
            if any(bad in ds.img_path for ds in data_batch['data_samples']):
                raise ValueError('this prompt is too long')
            return [np.zeros(img.shape[-2:], np.uint8) for img in data_batch['inputs']]

    cfg = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    out = str(tmp_path / 'labels')
    report = generate_pseudo_labels(cfg, out, dict(type='BreaksOnOneImageTestGenerator'),
                                    batch_size=4, num_workers=0)
    names = _names(tiny_voc)
    assert report['written'] == len(names) - 1 and report['failed'] == 1
    assert bad in report['failures'][0]['img_path']
    assert 'too long' in report['failures'][0]['error']
    assert sorted(f[:-4] for f in os.listdir(out) if f.endswith('.png')) == sorted(
        n for n in names if n != bad)


def test_ctrl_c_keeps_the_labels_made_and_the_rerun_does_the_rest(tiny_voc, tmp_path):
    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS

    @LABEL_GENERATORS.register_module(force=True)
    class InterruptedTestGenerator(BaseLabelGenerator):
        batches = 0

        def generate(self, data_batch):
            type(self).batches += 1
            if type(self).batches == 3:
                raise KeyboardInterrupt
            return [np.zeros(img.shape[-2:], np.uint8) for img in data_batch['inputs']]

    cfg = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    out = str(tmp_path / 'labels')
    names = _names(tiny_voc)
    os.makedirs(out)
    with open(osp.join(out, 'report.json'), 'w') as f:  # of an earlier, finished run
        json.dump(dict(written=0), f)
    with pytest.raises(KeyboardInterrupt), captured_log() as log:
        generate_pseudo_labels(cfg, out, dict(type='InterruptedTestGenerator'),
                               batch_size=2, num_workers=0)
    done = [f for f in os.listdir(out) if f.endswith('.png')]
    assert len(done) == 4 and all(load_label_png(osp.join(out, f)).shape for f in done)
    assert not osp.exists(osp.join(out, 'report.json'))  # no report of another run
    assert (f'interrupted: 4 labels written by this run, 0 there before, {len(names) - 4} to '
            'do; run the same command again' in log.getvalue())
    report = generate_pseudo_labels(cfg, out, dict(type='InterruptedTestGenerator'),
                                    batch_size=2, num_workers=0)
    assert report['skipped_existing'] == 4 and report['written'] == len(names) - 4


def test_the_generator_is_closed_when_the_run_fails_before_labelling(tiny_voc, tmp_path,
                                                                        monkeypatch):
    """Its CRF worker processes would outlive a run whose loader could not be made."""
    from mmwsss.apis import pseudo_labels
    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS

    closed = []

    @LABEL_GENERATORS.register_module(force=True)
    class ClosedTestGenerator(BaseLabelGenerator):
        def generate(self, data_batch):
            return [np.zeros(img.shape[-2:], np.uint8) for img in data_batch['inputs']]

        def close(self, cancel=False):
            closed.append(cancel)

    def unreadable_sizes(*args, **kwargs):
        raise OSError('cannot read the image sizes')

    monkeypatch.setattr(pseudo_labels, 'batches_by_image_size', unreadable_sizes)
    cfg = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    with pytest.raises(OSError, match='cannot read the image sizes'):
        generate_pseudo_labels(cfg, str(tmp_path / 'labels'),
                               dict(type='ClosedTestGenerator'), batch_size=2, num_workers=0)
    assert closed == [False]


def test_tools_say_once_what_an_interrupt_kept(capsys):
    from mmwsss.apis.cli import run_main

    def interrupted(reported):
        def main():
            interrupt = KeyboardInterrupt()
            if reported:  # as generate_pseudo_labels marks the one it reported
                interrupt.reported = True
            raise interrupt
        return main

    for reported in (False, True):
        with pytest.raises(SystemExit) as stop:
            run_main(interrupted(reported), 'the labels written are kept')
        assert stop.value.code == 130
        said = capsys.readouterr().err
        assert ('interrupted: the labels written are kept' in said) is not reported


def test_a_missing_file_ends_a_tool_with_its_message_alone(tmp_path, capsys, monkeypatch):
    """A missing checkpoint or image: exit status 2 and the message that names the file and
    where to get it, no traceback (MMWSSS_TRACEBACK=1 keeps it); other errors keep theirs."""
    from mmwsss.apis.cli import run_main
    from mmwsss.utils import MissingFileError, check_file

    def main():
        check_file(str(tmp_path / 'sam_vit_h.pth'), 'SAM checkpoint')
    with pytest.raises(SystemExit) as stop:
        run_main(main)
    said = capsys.readouterr().err
    assert stop.value.code == 2 and said.startswith("error: SAM checkpoint not found: '")
    assert 'does not download' in said and 'Traceback' not in said
    monkeypatch.setenv('MMWSSS_TRACEBACK', '1')
    with pytest.raises(MissingFileError):
        run_main(main)
    monkeypatch.delenv('MMWSSS_TRACEBACK')

    def wrong():
        raise ValueError('a bug, or a bad setting')
    with pytest.raises(ValueError, match='a bug'):
        run_main(wrong)
    # as a user runs it
    proc = run_tool('tools/test.py', CAM_CFG, str(tmp_path / 'iter_1000.pth'), '--split',
                    'train', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert "error: checkpoint to test not found: '" in proc.stderr


def test_crf_labels_made_on_worker_processes_are_the_serial_ones_and_ctrl_c_keeps_them(
        tiny_voc, tiny_cam, tmp_path):
    from mmwsss.label_generators import CAMLabelGenerator
    from mmwsss.registry import LABEL_GENERATORS

    @LABEL_GENERATORS.register_module(force=True)
    class InterruptedCRFTestGenerator(CAMLabelGenerator):
        batches = 0

        def submit(self, data_batch):
            type(self).batches += 1
            if type(self).batches == 4:  # 6 images' CRFs handed to the workers before
                raise KeyboardInterrupt
            return super().submit(data_batch)

    names = _names(tiny_voc)
    serial, pooled = str(tmp_path / 'serial'), str(tmp_path / 'pooled')
    generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1], crf=dict(), crf_workers=0), serial,
                           batch_size=2, num_workers=0)
    cfg = _cfg(tiny_voc, tiny_cam[1], type='InterruptedCRFTestGenerator', crf=dict(),
               crf_workers=2)
    with pytest.raises(KeyboardInterrupt), captured_log() as log:
        generate_pseudo_labels(cfg, pooled, batch_size=2, num_workers=0)
    kept = sorted(f for f in os.listdir(pooled) if f.endswith('.png'))
    assert len(kept) <= 6
    assert (f'interrupted: {len(kept)} labels written by this run, 0 there before, '
            f'{len(names) - len(kept)} to do' in log.getvalue())
    report = generate_pseudo_labels(cfg, pooled, batch_size=2, num_workers=0,
                                    overlay_dir=str(tmp_path / 'overlays'), num_overlays=2)
    assert report['written'] == len(names) - len(kept) and report['failed'] == 0
    assert len(os.listdir(tmp_path / 'overlays')) == 2
    assert sorted(os.listdir(serial)) == sorted(os.listdir(pooled))
    for n in names:
        assert np.array_equal(load_label_png(osp.join(pooled, n + '.png')),
                              load_label_png(osp.join(serial, n + '.png'))), n


def test_pictures_of_images_with_one_file_name_do_not_overwrite_each_other():
    from mmwsss.visualization import unique_names
    assert unique_names(['d/a/x.jpg', 'd/b/x.jpg', 'd/b/y.png']) == ['a/x', 'b/x', 'y']
    assert unique_names(['/p/x.jpg', '/q/y.jpg']) == ['x', 'y']


def test_labels_are_named_by_split_id_so_subfolders_do_not_collide(tiny_voc, tmp_path):
    """ids a/x and b/x: two label files where PseudoLabelDataset and eval look for them; a
    split that repeats an id is refused; temp files of an interrupted run are cleared."""
    from mmwsss.datasets import PseudoLabelDataset
    from mmwsss.datasets.converters import write_image_labels
    from mmwsss.evaluation.label_dir import evaluate_label_dir
    from mmwsss.label_generators.base import BaseLabelGenerator
    from mmwsss.registry import DATASETS, LABEL_GENERATORS

    @LABEL_GENERATORS.register_module(force=True)
    class FirstLabelTestGenerator(BaseLabelGenerator):
        def generate(self, data_batch):
            return [np.full(img.shape[-2:], int(ds.gt_img_labels[0]), np.uint8)
                    for img, ds in zip(data_batch['inputs'], data_batch['data_samples'])]

    root = tmp_path / 'data'
    names = _names(tiny_voc)
    masks = {n: load_label_png(osp.join(tiny_voc, 'SegmentationClassAug', n + '.png'))
             for n in names}
    first = names[0]
    second = next(n for n in names[1:] if set(np.unique(masks[n])) - {0, 255} !=
                  set(np.unique(masks[first])) - {0, 255})
    for sub, name in (('a', first), ('b', second)):
        for folder, ext in (('JPEGImages', '.jpg'), ('SegmentationClassAug', '.png')):
            os.makedirs(root / folder / sub, exist_ok=True)
            shutil.copy(osp.join(tiny_voc, folder, name + ext), root / folder / sub / ('x' + ext))
    split = root / 'ImageSets/Segmentation/train_aug.txt'
    os.makedirs(split.parent)
    split.write_text('a/x\r\nb/x  \r\n')
    write_image_labels(str(root), 'ImageSets/Segmentation/train_aug.txt', 'SegmentationClassAug')
    cfg = load_cfg(CAM_CFG, tiny_overrides(str(root)))
    out = tmp_path / 'labels'
    os.makedirs(out / 'a')
    (out / 'a' / '.tmp-killed.part').write_bytes(b'half a png')
    report = generate_pseudo_labels(cfg, str(out), dict(type='FirstLabelTestGenerator'),
                                    num_workers=0, overlay_dir=str(tmp_path / 'ov'))
    assert report['written'] == 2 and not (out / 'a' / '.tmp-killed.part').exists()
    assert (tmp_path / 'ov/a/x.png').is_file() and (tmp_path / 'ov/b/x.png').is_file()
    a, b = load_label_png(str(out / 'a/x.png')), load_label_png(str(out / 'b/x.png'))
    assert a.max() != b.max()  # each image its own file
    dataset_cfg = dict(cfg.pseudo_label_dataloader.dataset, type='SyntheticPseudoLabelDataset',
                       data_prefix=dict(img_path='JPEGImages', seg_map_path=str(out)))
    dataset = DATASETS.build(dataset_cfg)
    assert isinstance(dataset, PseudoLabelDataset)
    assert [dataset[i]['data_samples'].gt_sem_seg.data.max().item() for i in range(2)] == [
        a.max(), b.max()]
    evaluated = evaluate_label_dir(str(out), DATASETS.build(cfg.pseudo_label_dataloader.dataset))
    assert evaluated['labelled'] == pytest.approx(100.0)
    assert generate_pseudo_labels(cfg, str(out), dict(type='FirstLabelTestGenerator'),
                                  num_workers=0)['skipped_existing'] == 2
    split.write_text('a/x\nb/x\na/x\n')
    with pytest.raises(ValueError, match=r'1 label files would be written for more than one.*a/x'):
        generate_pseudo_labels(cfg, str(tmp_path / 'again'), dict(type='FirstLabelTestGenerator'),
                               num_workers=0)


def test_cam_demo_gives_the_labels_label_generation_writes(tiny_voc, tiny_cam, tmp_path):
    """init_cam_model + inference_cam on one image (path or array) = the pseudo-label the
    CAM generator writes for it; tools/cam_demo.py draws it; unknown classes are named."""
    import mmcv
    import torch
    from PIL import Image

    from mmwsss.apis import inference_cam, init_cam_model
    cfg = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    out = str(tmp_path / 'labels')
    generate_pseudo_labels(_cfg(tiny_voc, tiny_cam[1]), out, num_workers=0)
    model = init_cam_model(cfg, tiny_cam[1])
    classes = model.dataset_meta['classes']
    img_labels = json.load(open(osp.join(tiny_voc, 'cls_labels.json')))
    for name in _names(tiny_voc)[:3]:
        path = osp.join(tiny_voc, 'JPEGImages', name + '.jpg')
        present = [classes[c] for c in img_labels[name]]
        sample = inference_cam(model, path, present)
        label = sample.pred_sem_seg.data[0].numpy()
        assert np.array_equal(label, load_label_png(osp.join(out, name + '.png')))
        absent = [c - 1 for c in range(1, len(classes)) if c not in img_labels[name]]
        assert not sample.pred_cam.data[absent].any()
        from_array = inference_cam(model, mmcv.imread(path), present)
        assert torch.equal(from_array.pred_cam.data, sample.pred_cam.data)
    with pytest.raises(KeyError, match=r"unknown classes \['dog'\]; this model knows"):
        inference_cam(model, path, ['dog'])
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'')
    # a bad image (empty, missing) costs only its own picture; the run exits 1 naming it
    proc = run_tool('tools/cam_demo.py', str(broken), str(tmp_path / 'nowhere.jpg'), path,
                    '--config', CAM_CFG, '--checkpoint', tiny_cam[1], '--classes', *present,
                    '--out-dir', str(tmp_path / 'demo'), check=False)
    assert proc.returncode == 1 and '2 of 3 images failed' in proc.stderr
    assert 'broken.jpg cannot be read' in proc.stderr
    assert "image not found: '" in proc.stderr and 'download' not in proc.stderr
    picture = proc.stdout.strip().splitlines()[-1]
    # image | label overlay | one heatmap per present class, each 64 px enlarged to 256
    assert Image.open(picture).size[0] > 256 * (2 + len(present))
    # a class the model does not know: named once, before any image, as a usage error
    proc = run_tool('tools/cam_demo.py', path, '--config', CAM_CFG, '--checkpoint', tiny_cam[1],
                    '--classes', 'dog', '--out-dir', str(tmp_path / 'demo2'), check=False)
    assert proc.returncode == 2 and "--classes: unknown classes ['dog']" in proc.stderr
    assert 'Traceback' not in proc.stderr and not osp.exists(tmp_path / 'demo2')
    with pytest.raises(ValueError, match='is not a CAM config'):
        init_cam_model(SEG_PL_CFG, tiny_cam[1])


def _copy_with_mixed_sizes(src: str, dst: str) -> None:
    """The tiny set with every third image (and its mask) enlarged to 80x72."""
    import cv2
    import mmcv

    from mmwsss.utils.io import save_label_png
    shutil.copytree(src, dst)
    for n in _names(dst)[::3]:
        img_path = osp.join(dst, 'JPEGImages', n + '.jpg')
        mmcv.imwrite(cv2.resize(mmcv.imread(img_path), (80, 72)), img_path)
        mask_path = osp.join(dst, 'SegmentationClassAug', n + '.png')
        save_label_png(cv2.resize(load_label_png(mask_path), (80, 72),
                                  interpolation=cv2.INTER_NEAREST), mask_path)


def test_cam_miou_on_mixed_sizes_is_the_miou_of_the_labels_written(tiny_voc, tiny_cam, tmp_path):
    """tools/test.py --split train batches by image size (no padding), so the CAM mIoU and
    its best threshold are those of the labels make_pseudo_labels writes at it."""
    from mmengine.dataset import DefaultSampler
    from mmengine.runner import Runner

    from mmwsss.datasets import SameSizeBatchSampler
    from mmwsss.evaluation.label_dir import evaluate_label_dir
    from mmwsss.registry import DATASETS
    root = str(tmp_path / 'mixed')
    _copy_with_mixed_sizes(tiny_voc, root)
    cfg = _cfg(root, tiny_cam[1])
    cfg.pseudo_label_dataloader.batch_size = 4
    dataset = DATASETS.build(cfg.pseudo_label_dataloader.dataset)
    sampler = SameSizeBatchSampler(DefaultSampler(dataset, shuffle=False), batch_size=4)
    batches = list(sampler)
    assert len(sampler) == len(batches) and batches[-1] == [len(dataset) - 1]
    assert sorted(sum(batches, [])) == list(range(len(dataset)))
    for batch in batches:  # one size per batch
        assert len({dataset[i]['inputs'].shape for i in batch}) == 1
    cfg.test_dataloader = cfg.pseudo_label_dataloader
    cfg.load_from, cfg.work_dir = tiny_cam[1], str(tmp_path / 'work')
    metrics = Runner.from_cfg(cfg).test()
    out = str(tmp_path / 'labels')
    generate_pseudo_labels(_cfg(root, tiny_cam[1], bg_threshold=metrics['bg_threshold']), out,
                           batch_size=4, num_workers=0)
    assert evaluate_label_dir(out, dataset)['mIoU'] == pytest.approx(metrics['mIoU'], abs=0.01)


def test_labels_need_only_images_and_image_labels(tiny_voc, tiny_cam, tmp_path):
    """No masks at all: labels are written from the images and cls_labels.json (the labels
    the model trained with, edited ones included); scoring them names the missing masks."""
    from mmwsss.apis.cli import require_masks
    from mmwsss.evaluation.label_dir import evaluate_label_dir
    from mmwsss.registry import DATASETS
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    shutil.rmtree(osp.join(root, 'SegmentationClassAug'))
    labels_file = osp.join(root, 'cls_labels.json')
    img_labels = json.load(open(labels_file))
    first = _names(root)[0]
    img_labels[first] = [5]  # the label file, not a mask, says what is in the image
    json.dump(img_labels, open(labels_file, 'w'))
    out = str(tmp_path / 'labels')
    cfg = _cfg(root, tiny_cam[1], bg_threshold=0.0)
    report = generate_pseudo_labels(cfg, out, num_workers=0)
    assert report['written'] == len(_names(root)) and report['failed'] == 0
    assert set(np.unique(load_label_png(osp.join(out, first + '.png')))) <= {0, 5}
    with pytest.raises(FileNotFoundError, match='masks listed by .*train_aug.txt are missing'):
        DATASETS.build(require_masks(cfg.pseudo_label_dataloader.dataset.copy()))
    with pytest.raises(FileNotFoundError, match='no mask to score'):
        evaluate_label_dir(out, DATASETS.build(cfg.pseudo_label_dataloader.dataset))
