"""Checkpoint paths and loading on torch >= 2.6 (``weights_only`` by default)."""
import os.path as osp
import re
import zipfile

from mmengine.config import Config


class MissingFileError(FileNotFoundError):
    """A user-given file (checkpoint, weights) is not there."""


WEIGHTS_HINT = 'put the file there or pass its path (see docs/checkpoints.md)'


def check_file(path: str, what: str, hint: str = '', weights: bool = True) -> str:
    """Return ``path`` if it is a file, else raise naming the file and what it is; for
    ``weights``, also where to get them (mmwsss never downloads: checkpoints are paths the
    user gives)."""
    if path is None or not osp.isfile(str(path)):
        message = f'{what} not found: {path!r}'
        if weights:
            message += f'. mmwsss does not download weights; {hint or WEIGHTS_HINT}'
        raise MissingFileError(message + '.')
    return str(path)


def check_checkpoint(path: str, what: str, hint: str = '') -> str:
    """``check_file``, and a PyTorch zip checkpoint must be whole: a truncated download
    (no zip central directory) is an error naming the file here, not a bare
    ``PytorchStreamReader`` error deep inside a load. Only the file's ends are read."""
    path = check_file(path, what, hint)
    with open(path, 'rb') as f:
        magic = f.read(4)
    if not magic:
        raise ValueError(f'{what} {path} is empty (an interrupted download?)')
    if magic == b'PK\x03\x04':  # torch.save's zip format (older pickles are not checked)
        try:
            zipfile.ZipFile(path).close()
        except zipfile.BadZipFile as e:
            raise ValueError(f'{what} {path} is truncated or damaged ({e}); the download may '
                             'have been interrupted: get the file again') from e
    return path


def strip_module_prefix(state: dict) -> dict:
    """``state`` with the ``module.`` prefix that (Distributed)DataParallel adds removed."""
    return {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}


def load_weights_file(path: str, what: str, torchscript: bool = False) -> dict:
    """The state dict in a local weights file: a plain state dict as released, or one under
    ``state_dict`` / ``model``; with ``torchscript`` also a TorchScript archive (OpenAI CLIP).
    A file that cannot be read (truncated download, not a PyTorch file) raises ``ValueError``
    naming it."""
    import torch
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: BLE001 -- reported with the file name below
        error = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
        if not torchscript:
            raise ValueError(f'{what} {path} cannot be read ({error}); the file may be '
                             'truncated (an interrupted download) or not a PyTorch '
                             'checkpoint') from e
        try:
            state = torch.jit.load(path, map_location='cpu').state_dict()
        except Exception as e2:  # noqa: BLE001
            raise ValueError(f'{what} {path} is neither a PyTorch checkpoint ({error}) nor a '
                             f'TorchScript archive ({type(e2).__name__}); the file may be '
                             'truncated (an interrupted download)') from e2
    if isinstance(state, dict):
        for key in ('state_dict', 'model'):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise ValueError(f'{what} {path} holds a {type(state).__name__}, not a state dict')
    return state


def resume_checkpoint(work_dir: str, resume: str = 'auto'):
    """The checkpoint ``tools/train.py --resume`` / ``--resume-from CKPT`` resumes from,
    checked. ``'auto'``: the work dir's latest (MMEngine's ``last_checkpoint``; None if there
    is none, and training starts afresh). A damaged one (a run killed while saving) is an
    error that names it and the latest periodic checkpoint to resume from instead."""
    import glob
    from mmengine.runner import find_latest_checkpoint
    path = find_latest_checkpoint(work_dir) if resume == 'auto' else resume
    if path is None:
        return None
    try:
        return check_checkpoint(path, 'checkpoint to resume from')
    except ValueError as e:
        # the periodic checkpoints (best_* ones hold no optimiser state), latest last
        others = sorted((p for p in glob.glob(osp.join(work_dir, '*.pth'))
                         if re.fullmatch(r'(iter|epoch)_\d+\.pth', osp.basename(p))
                         and osp.abspath(p) != osp.abspath(path)),
                        key=lambda p: int(re.findall(r'\d+', osp.basename(p))[0]))
        hint = (f'; resume from an earlier one: --resume-from {others[-1]}' if others else '')
        raise ValueError(f'{e}{hint}') from e


def load_trained_checkpoint(model, path: str, what: str) -> dict:
    """Load a checkpoint that ``tools/train.py`` wrote for ``model`` (mmengine's format), and
    return it. Every weight of the model must be in it with its shape; otherwise
    ``ValueError`` names the file and the weights that do not fit. mmengine's
    ``load_checkpoint`` would only warn and leave them random, so a checkpoint of another
    config (a segmenter for a CAM model, say) would give labels and scores from random
    weights. Weights the model does not have are ignored (e.g. a SAM a label generator
    builds itself)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    from mmengine.runner.checkpoint import _load_checkpoint
    check_checkpoint(path, what)
    try:
        ckpt = _load_checkpoint(path, map_location='cpu')
    except Exception as e:  # noqa: BLE001 -- reported with the file name
        raise ValueError(f'{what} {path} cannot be read ({type(e).__name__}: '
                         f'{str(e).splitlines()[0] if str(e) else ""}); is it a checkpoint '
                         'that tools/train.py wrote?') from e
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f'{what} {path} holds no state dict')
    state = strip_module_prefix(state)
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):  # as Runner loads
        model = model.module
    own = model.state_dict()
    check_weights_fit(own, state, f'{what} {path}', 'Was it trained with this config?')
    model.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
    return ckpt


def check_weights_fit(own: dict, state: dict, what: str, hint: str,
                      config: str = 'this config') -> None:
    """Every weight of ``own`` (a model's state dict) is in ``state`` with its shape;
    otherwise ``ValueError`` names ``what`` and the weights that do not fit, then ``hint``."""
    # BatchNorm's step counter is absent from checkpoints of other code bases; it is not a
    # weight (PyTorch's own loading tolerates its absence too)
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    wrong = [f'{k} {tuple(state[k].shape)} (model: {tuple(own[k].shape)})' for k in own
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        raise ValueError(
            f'{what} does not fit the model of {config}: '
            + (f'{len(missing)} of its {len(own)} weights are missing (e.g. '
               f'{", ".join(missing[:4])})' if missing else '')
            + ('; ' if missing and wrong else '')
            + (f'{len(wrong)} have another shape (e.g. {"; ".join(wrong[:3])})'
               if wrong else '')
            + f'. {hint}')


def check_weights_fit_config(state: dict, config: str, what: str, hint: str) -> None:
    """``check_weights_fit`` against the model of the config file ``config``, built on the
    meta device (no memory, no pretrained weights read)."""
    import torch
    from mmengine.registry import init_default_scope

    from mmwsss.models.builder import build_module
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    cfg.model.get('backbone', {}).pop('init_cfg', None)
    with torch.device('meta'):
        own = build_module(cfg.model).state_dict()
    check_weights_fit(own, state, what, hint, config)


def check_config_checkpoints(cfg: Config) -> None:
    """Fail early, before building anything, on weights a config names that do not exist:
    ``init_cfg`` checkpoints (``type='Pretrained'``), ``pretrained=`` paths (mmseg's
    ``EncoderDecoder(pretrained=...)``, as in mmseg's own configs) and ``load_from``. URLs
    (``https://``, ``open-mmlab://``, ``torchvision://``, ...) are refused: no network here."""

    def check(ckpt: str, key: str) -> None:
        if '://' in ckpt:
            raise MissingFileError(
                f'{key} is {ckpt!r}: mmwsss does not download weights. Download the file '
                'once and give its local path (docs/checkpoints.md).')
        check_checkpoint(ckpt, f'pretrained weights ({key})',
                         'see docs/checkpoints.md for where to get them, or set '
                         f'{key}=None to start from random weights')

    def visit(node, where):
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained' and node.get('checkpoint'):
                check(str(node['checkpoint']), f'{where}.checkpoint')
            if isinstance(node.get('pretrained'), str) and node['pretrained']:
                check(node['pretrained'], f'{where}.pretrained')
            for k, v in node.items():
                visit(v, f'{where}.{k}' if where else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{where}[{i}]')

    visit(cfg.get('model', {}), 'model')
    if cfg.get('load_from'):
        check_checkpoint(cfg.load_from, 'load_from checkpoint')


def allow_mmengine_checkpoints() -> None:
    """Make MMEngine checkpoints load under ``torch.load(weights_only=True)`` (torch >= 2.6).

    ``--resume`` reads the message hub, whose ``HistoryBuffer`` pickles its statistics
    methods through ``getattr`` (a global that cannot be allowed safely), plus numpy arrays
    and scalars. We (1) pickle ``HistoryBuffer`` as ``HistoryBuffer(log, counts, max_length)``
    from now on and (2) allow exactly the constructors those pickles use: numpy arrays,
    scalars and dtypes, ``HistoryBuffer`` and ``ConfigDict``. Weights-only loading stays on.
    """
    import collections
    import copyreg

    import numpy as np
    import torch
    from mmengine.config.config import ConfigDict
    from mmengine.logging.history_buffer import HistoryBuffer

    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    np_core = getattr(np, '_core', None) or np.core
    safe = [HistoryBuffer, ConfigDict, collections.OrderedDict, np.dtype, np.ndarray,
            np_core.multiarray._reconstruct, np_core.multiarray.scalar]
    safe += [type(np.dtype(t)) for t in ('float64', 'float32', 'float16', 'int64', 'int32',
                                          'int16', 'int8', 'uint8', 'bool')]
    torch.serialization.add_safe_globals(safe)


def _reduce_history_buffer(buf):
    return type(buf), (buf._log_history, buf._count_history, buf.max_length)
