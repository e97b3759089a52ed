"""CAM head: a 1×1 classifier over backbone features whose maps are the CAMs."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.structures import SegDataSample

from mmwsss.registry import MODELS
from ..builder import build_module
from ..utils import multi_hot
from .pooling import build_cam_pooling


@MODELS.register_module()
class CAMHead(BaseModule):
    """Class activation maps from a 1×1 convolution, pooled to image-level logits.

    ``forward`` gives raw CAMs (N, C, h, w) for the C foreground classes; ``pool`` turns them
    into logits (N, C) that the classification loss sees. Pooling is global average pooling
    (``'gap'``) or any registered CAM pooling (HFPL's ``'importance_sampling'``).

    Args:
        in_channels: channels of the chosen feature map.
        num_classes: foreground classes (VOC: 20).
        in_index: which backbone/neck output to use.
        pooling: ``'gap'``, another registered pooling name, or a dict config of one.
        dropout_ratio: Dropout2d before the classifier (SEAM/PSA use 0.5).
        bias: whether the classifier has a bias (CAM methods usually have none).
        loss_cls: image-level classification loss on the pooled logits.
        loss_cam: optional list of CAM-level losses, each called as
            ``loss(cams, inputs, data_samples)``, e.g. HFPL's ``FeatureSimilarityLoss``.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 in_index: int = -1,
                 pooling: Union[str, dict] = 'gap',
                 dropout_ratio: float = 0.0,
                 bias: bool = False,
                 loss_cls: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 loss_cam: Optional[Sequence[dict]] = None,
                 init_cfg: Optional[dict] = dict(type='Xavier', layer='Conv2d',
                                                 distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.num_classes = num_classes
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=bias)
        self.pooling = build_cam_pooling(pooling)
        self.loss_cls = build_module(loss_cls)
        self.loss_cam = nn.ModuleList([build_module(c) for c in (loss_cam or [])])

    def select_feature(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        return feats[self.in_index] if isinstance(feats, (list, tuple)) else feats

    def forward(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        """Raw (un-normalised, signed) CAMs, (N, C, h, w)."""
        return self.classifier(self.dropout(self.select_feature(feats)))

    def pool(self, cams: torch.Tensor) -> torch.Tensor:
        """Deterministic image-level logits (N, C) from CAMs."""
        return self.pooling.plain(cams)

    def loss_by_cams(self, cams: torch.Tensor, data_samples: List[SegDataSample],
                     inputs: Optional[torch.Tensor] = None,
                     with_extras: bool = True,
                     pooled_cams: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Classification loss on pooled CAMs plus every configured CAM-level loss.

        ``with_extras=False`` uses the plain pooling and no CAM-level losses: siamese methods
        use it on their transformed branch, as HFPL's code does on SEAM's rescaled branch.
        ``pooled_cams``: the CAMs the deterministic score averages, if not ``cams`` (SEAM:
        upsampled to the input); sampling and CAM-level losses use ``cams``.
        """
        targets = multi_hot(data_samples, self.num_classes, cams.device)
        if not with_extras:
            logits = self.pool(cams if pooled_cams is None else pooled_cams)
        elif pooled_cams is None:  # poolings written with forward(cams) work as they were
            logits = self.pooling(cams)
        else:
            logits = self.pooling(cams, pooled_cams)
        if logits.dim() == 3:  # several estimates per class, weighted (importance sampling)
            weights = self.pooling.sample_weights
            loss = sum(w * self.loss_cls(logits[..., s], targets)
                       for s, w in enumerate(weights.tolist()) if w > 0)
            logits = logits[..., 0]
        else:
            loss = self.loss_cls(logits, targets)
        losses = {self.loss_cls.loss_name: loss}
        with torch.no_grad():
            losses['acc_cls'] = ((logits > 0) == (targets > 0.5)).float().mean() * 100
        if with_extras:
            for cam_loss in self.loss_cam:
                losses[cam_loss.loss_name] = cam_loss(cams, inputs, data_samples)
        return losses

    def loss(self, feats, data_samples: List[SegDataSample],
             inputs: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        return self.loss_by_cams(self.forward(feats), data_samples, inputs)
