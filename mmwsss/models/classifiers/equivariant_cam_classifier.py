"""Siamese CAM training with an equivariance transform: SEAM."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from mmwsss.registry import MODELS
from ..builder import build_module
from ..utils import min_max_norm, multi_hot, with_background
from .cam_classifier import CAMClassifier


@MODELS.register_module()
class EquivariantCAMClassifier(CAMClassifier):
    """SEAM's training step (``train_SEAM.py`` of YudeWang/SEAM) from registered parts.

    Each batch runs twice: on the images and on ``transform(images)``. Per branch, the head
    gives raw CAMs and the ``cam_neck`` (PCM) refines them; both are upsampled to the branch
    input (bilinear, ``align_corners=True``). Losses:

    - the head's losses on each branch's CAMs, averaged over branches: classification on
      both, the head's extras (importance sampling, CAM-level losses such as HFPL's) on the
      untransformed branch only, as arvijj/hfpl adds them to SEAM. The head sees CAMs at
      feature resolution; SEAM pools the bilinearly upsampled map, which differs from it only
      in how border pixels are weighted;
    - ``loss_min`` (optional): ``AdaptiveMinPoolingLoss`` on the label-masked refined CAMs,
      averaged over branches;
    - ``loss_er``: after min-max normalisation and label masking, the first branch's CAMs are
      transformed and compared with the second's (foreground channels);
    - ``loss_ecr``: refined CAMs against the other branch's raw CAMs, background = 1 - max.

    Args:
        transform: equivariance transform (``RescaleTransform(scale=0.3)`` in SEAM).
        loss_er, loss_ecr, loss_min: loss configs; ``loss_min=None`` drops it.
        (other args as ``CAMClassifier``; ``cam_neck`` is required)
    """

    def __init__(self,
                 transform: dict = dict(type='RescaleTransform', scale=0.3),
                 loss_er: dict = dict(type='EquivariantRegularizationLoss'),
                 loss_ecr: dict = dict(type='EquivariantCrossRegularizationLoss'),
                 loss_min: Optional[dict] = dict(type='AdaptiveMinPoolingLoss'),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.cam_neck is None:
            raise ValueError('EquivariantCAMClassifier needs a cam_neck (e.g. PCMNeck)')
        self.transform = build_module(transform)
        self.loss_er = build_module(loss_er)
        self.loss_ecr = build_module(loss_ecr)
        self.loss_min = build_module(loss_min)

    def _branch(self, img: torch.Tensor, data_samples: List[SegDataSample], main: bool):
        """Raw CAMs with a zero background channel, refined CAMs (both at input size), and
        the head's losses."""
        feats = self.extract_feat(img)
        raw = self.head(feats)
        refined = self.cam_neck.refine(raw, feats, img)
        losses = self.head.loss_by_cams(raw, data_samples, img, with_extras=main)
        size = img.shape[-2:]
        raw = F.interpolate(raw, size=size, mode='bilinear', align_corners=True)
        refined = F.interpolate(refined, size=size, mode='bilinear', align_corners=True)
        return torch.cat([torch.zeros_like(raw[:, :1]), raw], 1), refined, losses

    def loss(self, inputs: torch.Tensor, data_samples: List[SegDataSample]) -> Dict:
        n = inputs.shape[0]
        labels = torch.cat([inputs.new_ones(n, 1),
                            multi_hot(data_samples, self.num_classes, inputs.device)], 1)
        labels = labels[..., None, None]
        cam1, ref1, losses = self._branch(inputs, data_samples, main=True)
        cam2, ref2, losses2 = self._branch(self.transform(inputs), data_samples, main=False)
        for k in losses2:  # shared terms (classification) are averaged over the branches
            losses[k] = (losses[k] + losses2[k]) / 2
        if self.loss_min is not None:
            losses[self.loss_min.loss_name] = (self.loss_min((ref1 * labels)[:, 1:]) +
                                               self.loss_min((ref2 * labels)[:, 1:])) / 2
        cam1 = self.transform(min_max_norm(cam1)) * labels
        ref1 = self.transform(min_max_norm(ref1)) * labels
        cam2 = min_max_norm(cam2) * labels
        ref2 = min_max_norm(ref2) * labels
        losses[self.loss_er.loss_name] = self.loss_er(cam1, cam2)
        cam1 = with_background(cam1[:, 1:])
        cam2 = with_background(cam2[:, 1:])
        losses[self.loss_ecr.loss_name] = self.loss_ecr(cam1, cam2, ref1, ref2)
        return losses
