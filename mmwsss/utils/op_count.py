"""Count the ATen operators a piece of code dispatches, and flag the ones that wait for the GPU.

A training step that is host-bound on a GPU is as slow as the Python and dispatcher work that
launches its kernels, so the number of operators per step is a device-independent measure of
that work. Some operators also force the host to wait for the device (a *sync*): reading a
value (``.item()``, ``bool(t)``, ``int(t)``: ``aten::_local_scalar_dense``), or producing a
shape that depends on values (``nonzero``, boolean-mask indexing, ``masked_select``,
``unique``). A sync empties the GPU's queue once per step. Both are visible on the CPU, so tests
can hold the training steps to "no hidden syncs" without a GPU.

    with OpCounter() as ops:
        model.train_step(batch, optim_wrapper)
    ops.total, ops.syncs  # e.g. 1480, {}
"""
import os.path as osp
import traceback
from collections import Counter
from typing import Dict, Iterable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['OpCounter', 'SYNC_OPS']

#: operators that read device memory on the host, or whose output shape depends on values.
SYNC_OPS = frozenset({
    'aten::_local_scalar_dense', 'aten::nonzero', 'aten::nonzero_static', 'aten::masked_select',
    'aten::_unique', 'aten::_unique2', 'aten::unique_dim', 'aten::unique_consecutive',
    'aten::repeat_interleave', 'aten::nonzero_numpy', 'aten::masked_scatter',
})
#: indexing operators that sync when an index is a boolean mask (they run ``nonzero`` inside).
_MASK_INDEXING_OPS = frozenset({'aten::index', 'aten::index_put', 'aten::index_put_',
                                'aten::_index_put_impl_'})


def _has_bool_index(args: Iterable) -> bool:
    for a in args:
        if isinstance(a, (list, tuple)) and any(
                isinstance(t, torch.Tensor) and t.dtype == torch.bool for t in a):
            return True
    return False


class OpCounter(TorchDispatchMode):
    """Counts operators by name (``aten::add``, …) while active, backward included.

    Attributes:
        counts: operator name → calls.
        syncs: the subset that makes the host wait for the device (see :data:`SYNC_OPS`);
            boolean-mask indexing is reported as ``aten::index (bool mask)``.
        sync_sites: ``'file:line in function'`` of the code outside PyTorch that dispatched each
            sync → calls (to find them).
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()
        self.syncs: Dict[str, int] = Counter()
        self.sync_sites: Dict[str, int] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        self.counts[name] += 1
        sync = name if name in SYNC_OPS else (
            f'{name} (bool mask)' if name in _MASK_INDEXING_OPS and _has_bool_index(args)
            else None)
        if sync:
            self.syncs[sync] += 1
            self.sync_sites[f'{_caller()}: {sync}'] += 1
        return func(*args, **(kwargs or {}))

    def top(self, n: int = 10) -> str:
        """The ``n`` most frequent operators, one ``name: calls`` per line."""
        return '\n'.join(f'{k}: {v}' for k, v in self.counts.most_common(n))


_TORCH_DIR = osp.dirname(torch.__file__)


def _caller() -> str:
    """The innermost frame outside PyTorch and this module."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(_TORCH_DIR) and frame.filename != __file__:
            return f'{frame.filename}:{frame.lineno} in {frame.name}'
    return '?'
