"""ImageNet weights of ResNet-38d: MXNet names → ``ResNet38d`` state dict."""
from collections import OrderedDict
from typing import Dict, Optional

import torch

from mmwsss.utils.checkpoint import check_file
from mmwsss.utils.mxnet_params import load_mxnet_params

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
