"""DeepLab-v2's ASPP head for mmseg's EncoderDecoder."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmwsss.registry import MODELS
from ..utils import pixel_accuracy


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """ASPP-v2 (Chen et al., TPAMI 2017): the sum of parallel 3×3 dilated convolutions that map
    features straight to class scores, rates 6/12/18/24.

    This is the DeepLab-LargeFOV/ASPP head WSSS papers train on pseudo-labels (no image
    pooling branch, no 1×1 projection, no BN, unlike mmseg's ASPPHead of DeepLab-v3). Weights
    are initialised N(0, 0.01) and biases 0, as in DeepLab-v2.

    The training loss is mmseg's ``BaseDecodeHead.loss_by_feat``, without its host-device
    synchronisations: ``acc_seg`` is computed without boolean indexing (``pixel_accuracy``;
    mmseg's ``accuracy`` syncs twice per step), and a ``CrossEntropyLoss`` with
    ``avg_non_ignore=True`` gets its count of labelled pixels as a tensor (mmseg's takes it
    with ``.item()``).

    Args:
        dilations: rates of the parallel branches.
        channels: unused by ASPP-v2 (kept for BaseDecodeHead); defaults to ``in_channels``.
        dropout_ratio: dropout on the features before ASPP; 0 (none) by default.
    """

    def __init__(self,
                 in_channels: int,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.0,
                 init_cfg: dict = dict(type='Normal', std=0.01, bias=0, layer='Conv2d'),
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels, channels=channels or in_channels,
            dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        del self.conv_seg  # ASPP-v2 branches output classes directly
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.out_channels, 3, padding=d, dilation=d, bias=True)
            for d in dilations)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        if self.dropout is not None:
            x = self.dropout(x)
        out = self.aspp[0](x)
        for branch in self.aspp[1:]:
            out = out + branch(x)
        return out

    def loss_by_feat(self, seg_logits: torch.Tensor, batch_data_samples) -> dict:
        seg_label = self._stack_batch_gt(batch_data_samples)
        seg_logits = resize(seg_logits, size=seg_label.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
        seg_weight = (self.sampler.sample(seg_logits, seg_label)
                      if self.sampler is not None else None)
        seg_label = seg_label.squeeze(1)
        losses_decode = (self.loss_decode if isinstance(self.loss_decode, nn.ModuleList)
                         else [self.loss_decode])
        loss = {}
        for loss_decode in losses_decode:
            extra = ({'avg_factor': (seg_label != self.ignore_index).sum()}
                     if _averages_over_labelled_pixels(loss_decode) else {})
            value = loss_decode(seg_logits, seg_label, weight=seg_weight,
                                ignore_index=self.ignore_index, **extra)
            name = loss_decode.loss_name
            loss[name] = loss[name] + value if name in loss else value
        loss['acc_seg'] = pixel_accuracy(seg_logits, seg_label, self.ignore_index)
        return loss


def _averages_over_labelled_pixels(loss: nn.Module) -> bool:
    """An mmseg ``CrossEntropyLoss`` (softmax, no class weights, mean) that averages over the
    pixels not ignored: its ``avg_factor`` is that count (``cross_entropy``'s own)."""
    return (getattr(loss, 'avg_non_ignore', False) and getattr(loss, 'reduction', '') == 'mean'
            and getattr(loss, 'class_weight', 0) is None
            and not getattr(loss, 'use_sigmoid', True) and not getattr(loss, 'use_mask', True))
