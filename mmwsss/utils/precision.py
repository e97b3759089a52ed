"""Precision switches shared by inference paths: ``'fp32'``, ``'bf16'`` or ``'auto'``."""
import contextlib

import torch

INFERENCE_PRECISIONS = ('auto', 'bf16', 'fp32')


def check_precision(precision: str, what: str = 'precision') -> str:
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f'{what} {precision!r}: use one of {INFERENCE_PRECISIONS}')
    return precision


def uses_bf16(precision: str, device) -> bool:
    """``'auto'`` means bf16 on CUDA and fp32 elsewhere."""
    return precision == 'bf16' or (precision == 'auto' and torch.device(device).type == 'cuda')


def precision_autocast(precision: str, device):
    """``torch.autocast`` to bf16 on ``device``'s type when ``uses_bf16``; otherwise fp32, with
    autocast switched off, so that a part set to fp32 stays fp32 inside a step that trains in
    mixed precision (``AmpOptimWrapper`` wraps the whole ``train_step``)."""
    device = torch.device(device)
    if uses_bf16(precision, device):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if device.type in ('cuda', 'cpu'):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()
