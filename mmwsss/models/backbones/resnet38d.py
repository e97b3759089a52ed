"""WideResNet-38 ("ResNet-38d"), the backbone of PSA and SEAM."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmwsss.registry import MODELS


class _ResBlock(nn.Module):
    """Pre-activation block: BN-ReLU, then a 3×3-3×3 branch plus an (optionally projected)
    shortcut. Returns the block output and its BN-ReLU'd input (the feature PSA/SEAM tap)."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, stride: int = 1,
                 first_dilation: Optional[int] = None, dilation: int = 1) -> None:
        super().__init__()
        self.same_shape = in_ch == out_ch and stride == 1
        first_dilation = dilation if first_dilation is None else first_dilation
        self.bn_branch2a = nn.BatchNorm2d(in_ch)
        self.conv_branch2a = nn.Conv2d(in_ch, mid_ch, 3, stride, padding=first_dilation,
                                       dilation=first_dilation, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(mid_ch)
        self.conv_branch2b1 = nn.Conv2d(mid_ch, out_ch, 3, padding=dilation, dilation=dilation,
                                        bias=False)
        if not self.same_shape:
            self.conv_branch1 = nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        act = F.relu(self.bn_branch2a(x))
        shortcut = x if self.same_shape else self.conv_branch1(act)
        out = self.conv_branch2b1(F.relu(self.bn_branch2b1(self.conv_branch2a(act))))
        return shortcut + out, act


class _BottleneckBlock(nn.Module):
    """Pre-activation bottleneck (1×1 → 3×3 dilated → 1×1) with dropout, for b6 and b7."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.bn_branch2a = nn.BatchNorm2d(in_ch)
        self.conv_branch1 = nn.Conv2d(in_ch, out_ch, 1, stride, bias=False)
        self.conv_branch2a = nn.Conv2d(in_ch, out_ch // 4, 1, stride, bias=False)
        self.bn_branch2b1 = nn.BatchNorm2d(out_ch // 4)
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(out_ch // 4, out_ch // 2, 3, padding=dilation,
                                        dilation=dilation, bias=False)
        self.bn_branch2b2 = nn.BatchNorm2d(out_ch // 2)
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(out_ch // 2, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        act = F.relu(self.bn_branch2a(x))
        out = F.relu(self.bn_branch2b1(self.conv_branch2a(act)))
        out = F.relu(self.bn_branch2b2(self.conv_branch2b1(self.dropout_2b1(out))))
        out = self.conv_branch2b2(self.dropout_2b2(out))
        return self.conv_branch1(act) + out, act


@MODELS.register_module()
class ResNet38d(BaseModule):
    """WideResNet-38 at output stride 8 (Wu et al. 2019; PSA's and SEAM's backbone).

    Matches ``network/resnet38d.py:Net`` of YudeWang/SEAM (and jiwoon-ahn/psa): stem
    ``conv1a`` (3→64, no BN), stages b2 (128), b3 (256), b4 (512) at strides 2/2/2, b5 (1024,
    dilation 2), bottlenecks b6 (2048, dilation 4, dropout 0.3) and b7 (4096, dilation 4,
    dropout 0.5), then BN-ReLU (``bn7``). Parameter names follow the official model, so
    ``tools/model_converters/resnet38d_mxnet2torch.py`` output loads with ``strict=True``.

    Outputs, by ``out_indices`` into (conv3, conv4, conv5, conv6):
    conv3 = BN-ReLU input of b4 (256 ch, 1/4), conv4 = of b5 (512, 1/8), conv5 = of b6
    (1024, 1/8), conv6 = final BN-ReLU (4096, 1/8). SEAM's PCM reads conv4 and conv5.

    Args:
        frozen_stages: 1 freezes conv1a and b2 (SEAM's ``not_training``); 0 freezes nothing.
        norm_eval: keep BN in eval mode with frozen affine parameters during training, as
            SEAM/PSA do (batch 8 is too small for BN statistics).
    """

    def __init__(self, out_indices: Sequence[int] = (1, 2, 3), frozen_stages: int = 1,
                 norm_eval: bool = True, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1a = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.b2 = _ResBlock(64, 128, 128, stride=2)
        self.b2_1 = _ResBlock(128, 128, 128)
        self.b2_2 = _ResBlock(128, 128, 128)
        self.b3 = _ResBlock(128, 256, 256, stride=2)
        self.b3_1 = _ResBlock(256, 256, 256)
        self.b3_2 = _ResBlock(256, 256, 256)
        self.b4 = _ResBlock(256, 512, 512, stride=2)
        for i in range(1, 6):
            setattr(self, f'b4_{i}', _ResBlock(512, 512, 512))
        self.b5 = _ResBlock(512, 512, 1024, first_dilation=1, dilation=2)
        self.b5_1 = _ResBlock(1024, 512, 1024, dilation=2)
        self.b5_2 = _ResBlock(1024, 512, 1024, dilation=2)
        self.b6 = _BottleneckBlock(1024, 2048, dilation=4, dropout=0.3)
        self.b7 = _BottleneckBlock(2048, 4096, dilation=4, dropout=0.5)
        self.bn7 = nn.BatchNorm2d(4096)
        self._freeze()

    def _frozen_modules(self):
        return [self.conv1a, self.b2, self.b2_1, self.b2_2] if self.frozen_stages >= 1 else []

    def _freeze(self) -> None:
        for m in self._frozen_modules():
            for p in m.parameters():
                p.requires_grad = False
        if self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    for p in m.parameters():
                        p.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet38d':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.conv1a(x)
        for name in ('b2', 'b2_1', 'b2_2', 'b3', 'b3_1', 'b3_2'):
            x, _ = getattr(self, name)(x)
        x, conv3 = self.b4(x)
        for i in range(1, 6):
            x, _ = getattr(self, f'b4_{i}')(x)
        x, conv4 = self.b5(x)
        x, _ = self.b5_1(x)
        x, _ = self.b5_2(x)
        x, conv5 = self.b6(x)
        x, _ = self.b7(x)
        conv6 = F.relu(self.bn7(x))
        outs = (conv3, conv4, conv5, conv6)
        return tuple(outs[i] for i in self.out_indices)
