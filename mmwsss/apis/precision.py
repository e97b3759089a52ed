"""Training precision and memory layout from two config switches.

``train_precision``: ``'fp32'`` (``OptimWrapper``), ``'bf16'`` (MMEngine's ``AmpOptimWrapper``
with ``dtype='bfloat16'`` and no loss scaler: bf16 has fp32's range, and the scaler's inf check
would synchronise host and GPU every step) or ``'fp16'`` (``AmpOptimWrapper`` with dynamic loss
scaling, as mmseg's ``--amp``). ``channels_last``: add ``ChannelsLastHook``.

GPU configs set ``train_precision = 'bf16'`` and ``channels_last = True``; the defaults in
``configs/_base_/default_runtime.py`` are fp32 and NCHW. ``tools/train.py --precision`` and
``--cfg-options train_precision=fp32 channels_last=False`` override them.
"""
import warnings

import torch
from mmengine.config import Config

TRAIN_PRECISIONS = ('fp32', 'bf16', 'fp16')
_AMP_KEYS = ('dtype', 'loss_scale', 'use_fsdp')


def apply_training_precision(cfg: Config, cuda_available: bool = None) -> str:
    """Rewrite ``cfg.optim_wrapper`` and ``cfg.custom_hooks`` for the config's switches, in
    place. Mixed precision needs CUDA (``AmpOptimWrapper`` refuses other devices): without it
    a warning is given and training runs in fp32. Returns the precision used."""
    # a config without the switch (e.g. one built on stock mmseg bases) keeps the optimiser
    # wrapper it wrote, AmpOptimWrapper included
    explicit = 'train_precision' in cfg
    precision = cfg.train_precision if explicit else _wrapper_precision(cfg.optim_wrapper)
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f'train_precision={precision!r}: use one of {TRAIN_PRECISIONS}')
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if precision != 'fp32' and not cuda_available:
        warnings.warn(f'train_precision={precision!r} needs a CUDA GPU (MMEngine '
                      "AmpOptimWrapper); training in fp32 here")
        precision, explicit = 'fp32', True
    wrapper = cfg.optim_wrapper
    if explicit and precision == 'fp32':
        if _is_amp(wrapper):
            wrapper.type = 'OptimWrapper'
        for key in _AMP_KEYS:
            wrapper.pop(key, None)
    elif explicit:
        # mmwsss's resumes across precisions; the mmwsss scope is reachable from mmseg's and
        # its own, other scopes (mmengine, mmdet) get MMEngine's wrapper
        wrapper.type = ('mmwsss.AmpOptimWrapper'
                        if cfg.get('default_scope', 'mmwsss') in ('mmwsss', 'mmseg')
                        else 'AmpOptimWrapper')
        wrapper.dtype = 'bfloat16' if precision == 'bf16' else 'float16'
        wrapper.loss_scale = dict(enabled=False) if precision == 'bf16' else 'dynamic'
    hooks = [h for h in cfg.get('custom_hooks', []) or []
             if h.get('type') not in ('ChannelsLastHook', 'mmwsss.ChannelsLastHook')]
    if cfg.get('channels_last', False):
        hooks.append(dict(type='mmwsss.ChannelsLastHook'))
        # distributed: convert before DDP builds its buckets (the hook would be too late)
        wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or {})
        wrapper_cfg.setdefault('type', 'mmwsss.DistributedDataParallel')
        if wrapper_cfg['type'].split('.')[-1] in ('DistributedDataParallel',
                                                  'CPUDistributedDataParallel'):
            wrapper_cfg['channels_last'] = True
        cfg.model_wrapper_cfg = wrapper_cfg
    cfg.custom_hooks = hooks
    cfg.train_precision = precision
    return precision


def _wrapper_precision(wrapper) -> str:
    """The precision an optimiser-wrapper config trains in."""
    if not _is_amp(wrapper):
        return 'fp32'
    return 'bf16' if str(wrapper.get('dtype')) in ('bfloat16', 'torch.bfloat16') else 'fp16'


def _is_amp(wrapper) -> bool:
    """An ``AmpOptimWrapper`` config, whatever the scope prefix (mmengine., mmseg., ...)."""
    return str(wrapper.get('type', '')).split('.')[-1] == 'AmpOptimWrapper'
