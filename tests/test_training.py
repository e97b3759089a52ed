"""tools/train.py: resume on torch >= 2.6, multi-process training, tools/test.py metrics."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import CAM_CFG, ROOT, as_cli, captured_log, run_tool, tiny_overrides


def run_script(script: str, *args, port: int):
    """``bash tools/<script> ...`` as the README gives it (ranks on CPU use gloo)."""
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(port))
    proc = subprocess.run(['bash', f'tools/{script}', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def ctrl_c_after(iteration: int, cmd: list, env: dict, timeout: int = 300):
    """Run ``cmd`` in a session of its own, send SIGINT to its process group (a terminal's
    Ctrl-C) once it logs training iteration ``iteration`` of 500; the process and its log."""
    import signal
    import time
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    log = ''
    deadline = time.time() + timeout
    while f'Iter(train) [{iteration:3d}/500]' not in log and time.time() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, log[-3000:]
        log += line
    os.killpg(proc.pid, signal.SIGINT)
    return proc, log + proc.communicate(timeout=timeout)[0]


def test_resume_continues_from_last_checkpoint(tiny_voc, tmp_path):
    work = str(tmp_path / 'w')
    opts = tiny_overrides(tiny_voc, iters=2)
    run_tool('tools/train.py', CAM_CFG, '--work-dir', work, *as_cli(opts))
    first = torch.load(osp.join(work, 'iter_2.pth'), weights_only=True)  # works on torch>=2.6
    assert first['meta']['iter'] == 2
    opts.update({'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4,
                 'param_scheduler.1.end': 4})
    # the latest checkpoint damaged (a run killed while saving): named, with the one before
    latest = osp.join(work, 'iter_2.pth')
    whole = open(latest, 'rb').read()
    open(latest, 'wb').write(whole[:len(whole) // 2])
    proc = run_tool('tools/train.py', CAM_CFG, '--work-dir', work, '--resume', *as_cli(opts),
                    check=False)
    assert proc.returncode != 0 and 'iter_2.pth is truncated or damaged' in proc.stderr
    assert f'--resume-from {osp.join(work, "iter_1.pth")}' in proc.stderr
    open(latest, 'wb').write(whole)
    proc = run_tool('tools/train.py', CAM_CFG, '--work-dir', work, '--resume', *as_cli(opts))
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [1/4]' not in log and 'Iter(train) [3/4]' in log
    last = torch.load(osp.join(work, 'iter_4.pth'), weights_only=True)
    assert last['meta']['iter'] == 4
    # optimizer state came back: AdamW step counts continue from 2
    steps = [s['step'] for s in last['optimizer']['state'].values()]
    assert float(steps[0]) == 4


def test_ctrl_c_saves_the_interrupted_iteration_and_resume_goes_on(tiny_voc, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it, loader workers included)
    saves the iteration it stops, whatever the checkpoint interval; --resume goes on."""
    import re
    work = str(tmp_path / 'w')
    opts = tiny_overrides(tiny_voc, iters=500)
    opts.update({'default_hooks.checkpoint.interval': 500, 'train_dataloader.num_workers': 2,
                 'train_dataloader.persistent_workers': True, 'train_cfg.val_interval': 1})
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc, log = ctrl_c_after(3, [sys.executable, 'tools/train.py', CAM_CFG, '--work-dir', work,
                                 *as_cli(opts)], env)
    assert proc.returncode == 130, log[-3000:]
    stopped = int(re.search(r'interrupted after iteration (\d+): saved', log).group(1))
    assert 3 <= stopped < 500 and 'Traceback' not in log
    # every iteration done was validated, the stopped one included (validation every step)
    assert len(re.findall(r'Iter\(val\) \[\d+/\d+\]\s+mIoU', log)) == stopped, log[-3000:]
    saved = torch.load(osp.join(work, f'iter_{stopped}.pth'), weights_only=True)
    assert saved['meta']['iter'] == stopped and saved['optimizer']['state']
    assert open(osp.join(work, 'last_checkpoint')).read().endswith(f'iter_{stopped}.pth')
    opts.update({'train_cfg.max_iters': stopped + 2, 'train_cfg.val_interval': stopped + 2,
                 'param_scheduler.1.end': stopped + 2, 'train_dataloader.num_workers': 0,
                 'train_dataloader.persistent_workers': False})
    resumed = run_tool('tools/train.py', CAM_CFG, '--work-dir', work, '--resume', *as_cli(opts))
    assert f'resumed epoch: 0, iter: {stopped}' in resumed.stdout + resumed.stderr
    assert torch.load(osp.join(work, f'iter_{stopped + 2}.pth'),
                      weights_only=True)['meta']['iter'] == stopped + 2


def test_ctrl_c_in_a_two_rank_run_stops_all_ranks_at_one_iteration_and_saves(tiny_voc,
                                                                            tmp_path):
    """Ctrl-C to torchrun (tools/dist_train.sh), which passes SIGINT on to its workers: the
    ranks agree on one iteration, rank 0 saves it, all stop (none left in a collective), and
    --resume goes on from it."""
    import re
    work = str(tmp_path / 'w')
    opts = tiny_overrides(tiny_voc, iters=500)
    opts.update({'default_hooks.checkpoint.interval': 500, 'train_cfg.val_interval': 500})
    env = dict(os.environ, PYTHON=sys.executable, PORT='29623')
    # the terminal's Ctrl-C reaches the launcher's process group; torchrun passes it on
    _, log = ctrl_c_after(3, ['bash', 'tools/dist_train.sh', CAM_CFG, '2', '--work-dir', work,
                              *as_cli(opts)], env)
    stopped = {int(n) for n in re.findall(r'\[rank \d\] stopped after iteration (\d+)', log)}
    assert len(re.findall(r'\[rank \d\] stopped after', log)) == 2, log[-4000:]
    assert len(stopped) == 1, log[-4000:]  # both ranks at the same iteration
    done = stopped.pop()
    assert done >= 3 and done % 10 == 0  # the ranks agree every 10 iterations
    assert 'SIGKILL' not in log and 'forcefully' not in log  # none had to be killed
    saved = torch.load(osp.join(work, f'iter_{done}.pth'), weights_only=True)
    assert saved['meta']['iter'] == done and saved['optimizer']['state']
    assert open(osp.join(work, 'last_checkpoint')).read().endswith(f'iter_{done}.pth')
    opts.update({'train_cfg.max_iters': done + 1, 'train_cfg.val_interval': done + 1,
                 'param_scheduler.1.end': done + 1})
    resumed = run_tool('tools/train.py', CAM_CFG, '--work-dir', work, '--resume', *as_cli(opts))
    assert f'resumed epoch: 0, iter: {done}' in resumed.stdout + resumed.stderr


def test_two_process_gloo_training(tiny_voc, tmp_path):
    """Two ranks through MMEngine's launcher, channels_last on: the model is converted before
    DDP wraps it (the ChannelsLastHook would refuse otherwise)."""
    work = str(tmp_path / 'dist')
    proc = run_script('dist_train.sh', CAM_CFG, '2', '--work-dir', work,
                      *as_cli(dict(tiny_overrides(tiny_voc, iters=2), channels_last=True)),
                      port=29612)
    log = proc.stdout + proc.stderr
    assert 'world_size: 2' in log or "'world_size': 2" in log or 'Distributed training: True' in log
    assert "channels_last=True" in log and 'mmwsss.DistributedDataParallel' in log
    assert osp.isfile(osp.join(work, 'iter_2.pth'))


def test_test_tool_writes_cam_sweep(tiny_voc, tiny_cam, tmp_path):
    out = str(tmp_path / 'm.json')
    # a load_from in the config (here an earlier checkpoint) must not replace the one tested:
    # the two-rank run below has none and must agree
    earlier = osp.join(tiny_cam[0], 'iter_2.pth')
    run_tool('tools/test.py', CAM_CFG, tiny_cam[1], '--split', 'train', '--work-dir',
             str(tmp_path), '--out-metrics', out,
             *as_cli(dict(tiny_overrides(tiny_voc), load_from=earlier)))
    m = json.load(open(out))
    sweep = {k: v for k, v in m.items() if k.startswith('mIoU@')}
    assert len(sweep) == 100 and m['mIoU'] == max(sweep.values())
    assert m[f"mIoU@{m['bg_threshold']:.2f}"] == m['mIoU']
    # tools/dist_test.sh with 2 ranks: each scores half the images, the merged figures are
    # the same
    dist_out = str(tmp_path / 'm2.json')
    proc = run_script('dist_test.sh', CAM_CFG, tiny_cam[1], '2', '--split', 'train',
                      '--work-dir', str(tmp_path / 'dist'), '--out-metrics', dist_out,
                      *as_cli(tiny_overrides(tiny_voc)), port=29613)
    assert 'Distributed launcher: pytorch' in proc.stdout + proc.stderr
    dist = json.load(open(dist_out))
    assert dist['bg_threshold'] == m['bg_threshold']
    assert {k: dist[k] for k in sweep} == pytest.approx(sweep, abs=1e-6)


@pytest.mark.parametrize('deterministic', [False, True])
def test_cudnn_autotunes_the_training_loop_only(tiny_voc, tmp_path, deterministic):
    """tools/train.py's hooks turn cuDNN benchmark mode on for the fixed-size training batches,
    off for validation (many image sizes), and leave the value from before the run; a run
    asked to be deterministic keeps it off, and says so."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from conftest import load_cfg
    from mmwsss.apis.cli import apply_train_options
    from mmwsss.registry import HOOKS

    seen = []

    @HOOKS.register_module(force=True)
    class CudnnProbeHook(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append(('train', torch.backends.cudnn.benchmark))

        def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append(('val', torch.backends.cudnn.benchmark))

    overrides = dict(tiny_overrides(tiny_voc, iters=2), **{'train_cfg.val_interval': 1})
    cfg = load_cfg(CAM_CFG, overrides)
    cfg.work_dir = str(tmp_path)
    apply_train_options(cfg)
    cfg.custom_hooks.append(dict(type='CudnnProbeHook'))
    cfg.randomness = dict(seed=0, deterministic=deterministic)
    try:
        runner = Runner.from_cfg(cfg)  # deterministic=True is set for the process here
        with captured_log() as log:
            runner.train()
    finally:  # what deterministic=True set for the process
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
    phases = [phase for phase, _ in seen]
    assert phases.index('val') < len(phases) - phases[::-1].index('train') - 1  # interleaved
    assert all(on == (phase == 'train' and not deterministic) for phase, on in seen), seen
    assert torch.backends.cudnn.benchmark is False  # the config's env_cfg value, as before
    said = log.getvalue().count('benchmark mode stays off, as the run is deterministic')
    assert said == int(deterministic)
