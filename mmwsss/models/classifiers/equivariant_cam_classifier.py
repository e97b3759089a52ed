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
      untransformed branch only, as arvijj/hfpl adds them to SEAM. The class score is the
      mean of the CAM upsampled to the input, as SEAM's (``train_SEAM.py``:
      ``adaptive_avg_pool2d`` of ``Net.forward``'s upsampled ``cam``), which weights border
      pixels less than the mean at feature resolution (``pool_upsampled_cams=False``): at
      output stride 8, edge rows count 0.58×, corners 0.33×. Importance sampling and
      HFPL's loss see the feature-resolution CAMs (``logits1`` in arvijj/hfpl);
    - ``loss_min`` (optional): ``AdaptiveMinPoolingLoss`` on the label-masked refined CAMs,
      averaged over branches;
    - ``loss_er``: after min-max normalisation and label masking, the first branch's CAMs are
      transformed and compared with the second's (foreground channels);
    - ``loss_ecr``: refined CAMs against the other branch's raw CAMs, background = 1 - max.

    Args:
        transform: equivariance transform (``RescaleTransform(scale=0.3)`` in SEAM).
        pool_upsampled_cams: class scores from the CAMs upsampled to the input (SEAM's),
            else at feature resolution.
        loss_er, loss_ecr, loss_min: loss configs; ``loss_min=None`` drops it.
        (other args as ``CAMClassifier``; ``cam_neck`` is required)
    """

    def __init__(self,
                 transform: dict = dict(type='RescaleTransform', scale=0.3),
                 loss_er: dict = dict(type='EquivariantRegularizationLoss'),
                 loss_ecr: dict = dict(type='EquivariantCrossRegularizationLoss'),
                 loss_min: Optional[dict] = dict(type='AdaptiveMinPoolingLoss'),
                 pool_upsampled_cams: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if self.cam_neck is None:
            raise ValueError('EquivariantCAMClassifier needs a cam_neck (e.g. PCMNeck)')
        self.transform = build_module(transform)
        self.loss_er = build_module(loss_er)
        self.loss_ecr = build_module(loss_ecr)
        self.loss_min = build_module(loss_min)
        self.pool_upsampled_cams = pool_upsampled_cams

    def _branch(self, img: torch.Tensor, data_samples: List[SegDataSample], main: bool):
        """Raw CAMs with a zero background channel, refined CAMs (both at input size), and
        the head's losses."""
        feats = self.extract_feat(img)
        raw = self.head(feats)
        refined = self.cam_neck.refine(raw, feats, img)
        size = img.shape[-2:]
        upsampled = F.interpolate(raw, size=size, mode='bilinear', align_corners=True)
        losses = self.head.loss_by_cams(
            raw, data_samples, img, with_extras=main,
            pooled_cams=upsampled if self.pool_upsampled_cams else None)
        refined = F.interpolate(refined, size=size, mode='bilinear', align_corners=True)
        return torch.cat([torch.zeros_like(upsampled[:, :1]), upsampled], 1), refined, losses

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
