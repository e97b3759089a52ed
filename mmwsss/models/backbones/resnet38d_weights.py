"""Weights of ResNet-38d models from other code: the MXNet ImageNet release → ``ResNet38d``;
a trained SEAM/HFPL ``Net`` (PyTorch) → ``EquivariantCAMClassifier``."""
from collections import OrderedDict
from typing import Dict, Optional

import torch

from mmwsss.utils.checkpoint import check_file, load_weights_file, strip_module_prefix
from mmwsss.utils.mxnet_params import load_mxnet_params
from .resnet38d import ResNet38d

_BN = {'beta': 'bias', 'gamma': 'weight', 'mean': 'running_mean', 'var': 'running_var'}


def mxnet_key_to_torch(key: str) -> Optional[str]:
    """The ``ResNet38d`` parameter for an MXNet name; None for the ImageNet classifier.

    Same rules as ``network/resnet38d.py:convert_mxnet_to_torch`` (YudeWang/SEAM):
    ``res4b5_branch2a_weight`` → ``b4_5.conv_branch2a.weight``, ``res2a_…`` → ``b2.…``,
    ``bn5b1_branch2b1_moving_var`` → ``b5_1.bn_branch2b1.running_var``, ``bn7_gamma`` →
    ``bn7.weight``, ``conv1a_weight`` → ``conv1a.weight``.
    """
    toks = key.split(':', 1)[-1].split('_')
    if 'conv1a' in toks[0]:
        return 'conv1a.weight'
    if 'linear1000' in toks[0]:
        return None
    if len(toks) > 1 and 'branch' in toks[1]:
        blk = toks[0]
        block = f'b{blk[-3]}_{blk[-1]}' if blk[-1] != 'a' else f'b{blk[-2]}'
        if 'res' in toks[0]:
            return f'{block}.conv_{toks[1]}.weight'
        return f'{block}.bn_{toks[1]}.{_BN[toks[-1]]}'
    return f'bn7.{_BN[toks[-1]]}'


def convert_resnet38d_mxnet(path: str) -> Dict[str, torch.Tensor]:
    """State dict for ``ResNet38d`` from the MXNet ImageNet release
    (``ilsvrc-cls_rna-a1_cls1000_ep-0001.params``)."""
    check_file(path, 'ResNet-38 MXNet weights',
               'get ilsvrc-cls_rna-a1_cls1000_ep-0001.params from the ResNet-38 (ademxapp) '
               'release linked in SEAM/PSA READMEs')
    state = OrderedDict()
    for key, value in load_mxnet_params(path).items():
        name = mxnet_key_to_torch(key)
        if name is not None:
            state[name] = torch.from_numpy(value)
    for name in [k for k in state if k.endswith('running_mean')]:
        state[name.replace('running_mean', 'num_batches_tracked')] = torch.tensor(0)
    return state


# network/resnet38_SEAM.py:Net's own layers → the modules of configs/_base_/models/seam_wr38.py
_SEAM_NECK = {'f8_3.weight': 'cam_neck.taps.0.weight', 'f8_4.weight': 'cam_neck.taps.1.weight',
              'f9.weight': 'cam_neck.f9.weight'}


def convert_official_seam(path: str) -> Dict[str, torch.Tensor]:
    """``EquivariantCAMClassifier`` weights (``configs/seam/*wr38*``, ``configs/hfpl/*wr38*``)
    from a trained ``network/resnet38_SEAM.py:Net`` state dict: YudeWang/SEAM's released
    ``resnet38_SEAM.pth``, or arvijj/hfpl's, whose ``Net`` has the same layers.

    The trunk keeps its names (``ResNet38d`` follows ``network/resnet38d.py``) under
    ``backbone.``; ``f8_3``/``f8_4``/``f9`` become the PCM neck's. ``fc8`` scores background
    first (21 rows for VOC, 81 for COCO); the head keeps the foreground rows: the background
    row reaches nothing (``Net.forward`` overwrites that CAM with ``1 - max`` before PCM,
    ``train_SEAM.py`` scores classes ``1:`` and ``infer_SEAM.py`` keeps ``cam[:, 1:]``).
    """
    check_file(path, 'SEAM checkpoint', 'give the resnet38_SEAM.pth that SEAM\'s (or '
               'HFPL\'s) train script saved, or the one its README links')
    state = strip_module_prefix(load_weights_file(path, 'SEAM checkpoint'))
    with torch.device('meta'):  # the trunk's names, without allocating its weights
        trunk = set(ResNet38d().state_dict())
    converted, unknown = OrderedDict(), []
    for key, value in state.items():
        if key in trunk:
            converted['backbone.' + key] = value
        elif key in _SEAM_NECK:
            converted[_SEAM_NECK[key]] = value
        elif key == 'fc8.weight':
            if value.dim() != 4 or value.shape[0] < 2:
                raise ValueError(f'SEAM checkpoint {path}: fc8.weight has shape '
                                 f'{tuple(value.shape)}; expected (1 + classes, 4096, 1, 1), '
                                 'background first')
            converted['head.classifier.weight'] = value[1:].clone()
        else:
            unknown.append(key)
    missing = sorted((set(_SEAM_NECK) | {'fc8.weight'}) - set(state)) + sorted(
        k for k in trunk - set(state) if not k.endswith('num_batches_tracked'))
    if unknown or missing:
        raise ValueError(
            f'SEAM checkpoint {path} is not a network/resnet38_SEAM.py:Net state dict: '
            + (f'weights missing: {len(missing)} (e.g. {", ".join(missing[:4])})'
               if missing else '')
            + ('; ' if unknown and missing else '')
            + (f'unknown weights: {len(unknown)} (e.g. {", ".join(unknown[:4])})'
               if unknown else ''))
    return converted
