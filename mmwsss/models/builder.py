"""Building sub-modules of mmwsss models whatever the caller's default scope is."""
from typing import Optional

import torch.nn as nn
from mmengine.registry import DefaultScope

from mmwsss.registry import MODELS


def build_module(cfg: Optional[dict]) -> Optional[nn.Module]:
    """``MODELS.build(cfg)`` in the ``mmwsss`` scope (None for None).

    A plain mmseg config (``default_scope='mmseg'``) may build ``type='mmwsss.CAMHead'``; the
    head's own parts (``'MultiLabelSoftMarginLoss'``, ``'gap'``) are mmwsss names, which the
    mmseg scope would not find. mmseg and MMEngine names still resolve (parent registries).
    """
    if cfg is None:
        return None
    with DefaultScope.overwrite_default_scope('mmwsss'):
        return MODELS.build(cfg)
