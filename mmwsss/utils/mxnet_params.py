"""Read MXNet ``.params`` files (NDArray lists) without MXNet.

Format (``src/ndarray/ndarray.cc`` of apache/mxnet, ``NDArray::Save``/``Load``): a uint64
list magic 0x112 and a reserved uint64, the arrays (uint64 count, then each array), the names
(uint64 count, then uint64 length + bytes each). An array is: a uint32 magic — V2 0xF993FAC9
(int32 storage type, int32 ndim, int64 dims), V1 0xF993FAC8 (int32 ndim, int64 dims), or, in
files older than both (such as the 2016 ResNet-38 release), no magic: the uint32 *is* ndim and
the dims are uint32 — then int32 device type and id, int32 dtype flag, and the raw data.
Only dense arrays are supported.
"""
import struct
from collections import OrderedDict
from typing import BinaryIO, Dict

import numpy as np

LIST_MAGIC = 0x112
V1_MAGIC, V2_MAGIC, V3_MAGIC = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8,
          6: np.int64}


def _read(f: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    buf = f.read(size)
    if len(buf) != size:
        raise ValueError(f'{getattr(f, "name", "params file")}: truncated (wanted {size} bytes)')
    return struct.unpack('<' + fmt, buf)


def _read_array(f: BinaryIO) -> np.ndarray:
    (magic, ) = _read(f, 'I')
    if magic in (V2_MAGIC, V3_MAGIC):
        (stype, ) = _read(f, 'i')
        if stype != 0:
            raise ValueError('sparse NDArrays are not supported')
        (ndim, ) = _read(f, 'i')
        shape = _read(f, f'{ndim}q') if ndim > 0 else ()
    elif magic == V1_MAGIC:
        (ndim, ) = _read(f, 'i')
        shape = _read(f, f'{ndim}q') if ndim > 0 else ()
    else:  # legacy: the word we read is ndim, dims are uint32
        ndim = magic
        if ndim > 32:
            raise ValueError(f'not an MXNet NDArray (magic/ndim {magic:#x})')
        shape = _read(f, f'{ndim}I') if ndim > 0 else ()
    if len(shape) == 0:
        return np.zeros((0, ), np.float32)
    _read(f, 'ii')  # device type, device id
    (flag, ) = _read(f, 'i')
    if flag not in DTYPES:
        raise ValueError(f'unknown MXNet dtype flag {flag}')
    dtype = np.dtype(DTYPES[flag])
    count = int(np.prod(shape))
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f'{getattr(f, "name", "params file")}: truncated array data')
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def load_mxnet_params(path: str) -> Dict[str, np.ndarray]:
    """``{name: array}`` of an MXNet ``.params`` file (names keep their ``arg:``/``aux:``)."""
    with open(path, 'rb') as f:
        header, _reserved = _read(f, 'QQ')
        if header != LIST_MAGIC:
            raise ValueError(f'{path}: not an MXNet .params file (header {header:#x})')
        (n, ) = _read(f, 'Q')
        arrays = [_read_array(f) for _ in range(n)]
        (n_names, ) = _read(f, 'Q')
        names = []
        for _ in range(n_names):
            (length, ) = _read(f, 'Q')
            names.append(f.read(length).decode())
    if len(names) != len(arrays):
        raise ValueError(f'{path}: {len(arrays)} arrays but {len(names)} names')
    return OrderedDict(zip(names, arrays))
