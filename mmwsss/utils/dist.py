"""Distributed set-up that also works without CUDA (gloo on CPU: tests, debugging)."""
import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import init_dist


def init_distributed(launcher: str, backend: str = None) -> None:
    """``mmengine.dist.init_dist``, or on a machine without CUDA a gloo process group from
    torchrun's environment (MMEngine's own init always calls ``torch.cuda.set_device``)."""
    if launcher == 'none' or torch_dist.is_initialized():
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend=backend or 'nccl')
    elif launcher in ('pytorch', 'slurm'):
        if launcher == 'slurm':
            _torch_env_from_slurm()
        torch_dist.init_process_group(backend='gloo')
    else:
        raise RuntimeError(f'launcher {launcher!r} without CUDA: CPU multi-process runs '
                           'support --launcher pytorch (torchrun / tools/dist_*.sh) and slurm')


def _torch_env_from_slurm() -> None:
    """torch.distributed's rendezvous variables from a Slurm task's, as MMEngine's
    ``_init_dist_slurm`` sets them (``mmengine/dist/utils.py``): rank = ``SLURM_PROCID``,
    world size = ``SLURM_NTASKS``, master = the first host of ``SLURM_NODELIST`` unless
    ``MASTER_ADDR`` is set, port ``MASTER_PORT`` or 29500."""
    env = os.environ
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in env]
    if missing:
        raise RuntimeError(f'--launcher slurm outside a Slurm task: {missing} not set (run it '
                           'through srun, e.g. tools/slurm_train.sh)')
    if 'MASTER_ADDR' not in env:
        try:
            proc = subprocess.run(['scontrol', 'show', 'hostname', env['SLURM_NODELIST']],
                                  capture_output=True, text=True)
            hosts, error = proc.stdout.split(), proc.stderr.strip()
        except FileNotFoundError:
            hosts, error = [], 'scontrol not found'
        if not hosts:
            raise RuntimeError(f'cannot name the first node of SLURM_NODELIST='
                               f'{env["SLURM_NODELIST"]!r} with scontrol ({error}); set '
                               'MASTER_ADDR')
        env['MASTER_ADDR'] = hosts[0]
    env.setdefault('MASTER_PORT', '29500')
    env['WORLD_SIZE'], env['RANK'] = env['SLURM_NTASKS'], env['SLURM_PROCID']
    env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')


def prepare_distributed(cfg: Config, launcher: str) -> None:
    """Make a config run multi-process without CUDA too: gloo backend, the process group set
    up before the Runner, and a DDP wrapper that accepts CPU modules. No-op with CUDA."""
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    init_distributed(launcher)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'mmwsss.DistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
