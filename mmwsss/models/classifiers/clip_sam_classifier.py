"""CLIP + SAM prompt learning for WSSS seeds (Yang & Gong, "Foundation Model Assisted Weakly
Supervised Semantic Segmentation", WACV 2024; official code HAL-42/FMA-WSSS).

``CLIPSAMClassifier`` trains the two prompt sets of a frozen CLIP (``CLIPPromptHead``):
the classification prompts by the multi-label contrastive loss on image-level labels, the
segmentation prompts by the CAM activation loss against the *coarse* SAM seed of the image
(``SAMSeeding(mode='coarse')`` of SAM "everything" masks and the classification CAMs,
detached). ``predict`` returns the segmentation-prompt CAMs as ``pred_cam`` so the CAM
metric and ``CAMLabelGenerator`` work as for any CAM model; ``CLIPSAMLabelGenerator``
turns them into fine SAM seeds.
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.registry import MODELS
from ..builder import build_module
from ..utils import cams_to_label_map, max_norm, multi_hot
from ..seeding import SAMSeeding
from .cam_classifier import _to_original_size

@MODELS.register_module()
class CLIPSAMClassifier(BaseModel):
    """Frozen CLIP with learnable classification and segmentation prompts, trained with SAM
    coarse seeds. Only ``head.cls_ctx`` and ``head.seg_ctx`` require gradients.

    Args:
        head: ``CLIPPromptHead`` config.
        loss_cls: image-level loss (``MultiLabelContrastiveLoss``) on the classification logits.
        loss_act: ``CAMActivationLoss`` of the segmentation CAMs against the coarse seed.
        sam: ``dict(sam_type=..., checkpoint=..., points_per_side=..., pred_iou_thresh=...,
            decoder_batch_size=..., precision=...)``; SAM is frozen and not saved in the
            model's checkpoints. ``None``: the coarse seed is the thresholded CAM (no SAM).
        seeding: ``SAMSeeding`` arguments of the training (coarse) seed; ``uncovered``
            defaults to 255 here (pixels of no SAM mask are ignored by the activation loss;
            the official coarse seed labels them background).
        test_cfg: ``bg_threshold`` of ``pred_sem_seg`` (default 0.3); ``use_img_labels``.
    """

    def __init__(self, head: dict, loss_cls: Optional[dict] = None,
                 loss_act: Optional[dict] = None, sam: Optional[dict] = None,
                 seeding: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.head = build_module(head)
        self.loss_cls = build_module(loss_cls or dict(type='MultiLabelContrastiveLoss'))
        self.loss_act = build_module(loss_act or dict(type='CAMActivationLoss'))
        self.sam_cfg = dict(sam) if sam else None
        if self.sam_cfg is not None:
            from mmwsss.label_generators.sam_utils import check_sam_checkpoint
            check_sam_checkpoint(self.sam_cfg.get('sam_type', 'vit_h'),
                                 self.sam_cfg.get('checkpoint'))
        self._sam = [None]  # not a sub-module: frozen, kept out of state_dict / optimiser
        self.seeding = SAMSeeding(**dict(dict(mode='coarse', uncovered=255), **(seeding or {})))
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(bg_threshold=0.3, use_img_labels=True)
        self.test_cfg.update(test_cfg or {})

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.head(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    # ------------------------------------------------------------------ SAM
    @property
    def sam_predictor(self):
        if self.sam_cfg is None:
            return None
        if self._sam[0] is None:
            from mmwsss.label_generators.sam_utils import SamBoxPredictor, build_sam
            cfg = self.sam_cfg
            sam = build_sam(cfg.get('sam_type', 'vit_h'), cfg['checkpoint'],
                            self.head.cls_ctx.device)
            for p in sam.parameters():
                p.requires_grad_(False)
            self._sam[0] = SamBoxPredictor(sam, precision=cfg.get('precision', 'auto'),
                                           decoder_batch_size=cfg.get('decoder_batch_size', 64))
        return self._sam[0]

    def raw_images(self, inputs: Tensor) -> List[Tensor]:
        """0..255 RGB images back from the normalised inputs."""
        dp = self.data_preprocessor
        if getattr(dp, '_enable_normalize', False):
            inputs = inputs * dp.std + dp.mean
        return [x.clamp(0, 255) for x in inputs]

    @torch.no_grad()
    def sam_masks(self, inputs: Tensor) -> List[Tensor]:
        from mmwsss.label_generators.sam_utils import predict_everything
        cfg = self.sam_cfg
        return predict_everything(self.sam_predictor, self.raw_images(inputs),
                                  points_per_side=cfg.get('points_per_side', 32),
                                  pred_iou_thresh=cfg.get('pred_iou_thresh', 0.88),
                                  min_area=cfg.get('min_area', 0))

    @torch.no_grad()
    def coarse_seeds(self, inputs: Tensor, cls_cams: Tensor, present: Tensor) -> Tensor:
        """(N, H, W) coarse seeds from SAM masks and the detached classification CAMs."""
        h, w = inputs.shape[-2:]
        cams = max_norm(F.interpolate(cls_cams.float(), size=(h, w), mode='bilinear',
                                      align_corners=False))
        if self.sam_cfg is None:  # no SAM: every pixel is its own region
            fg = SAMSeeding._norm(cams.flatten(2)).reshape(cams.shape) * present[..., None, None]
            bg = torch.stack([self.seeding.background(f) for f in fg])
            return torch.cat([bg, fg], dim=1).argmax(1)
        masks = self.sam_masks(inputs)
        return torch.stack([self.seeding(m, c, p) for m, c, p in zip(masks, cams, present)])

    # ---------------------------------------------------------------- train
    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        out = self.head(inputs)
        present = multi_hot(data_samples, self.num_classes, inputs.device)
        seeds = self.coarse_seeds(inputs, out['cls_cams'].detach(), present)
        return dict(loss_cls=self.loss_cls(out['cls_logits'], present),
                    loss_act=self.loss_act(out['seg_cams'], seeds, present))

    # -------------------------------------------------------------- predict
    def inference_cams(self, inputs: Tensor) -> Tensor:
        """Segmentation-prompt CAMs at input size, max-normalised per class."""
        cams = self.head(inputs)['seg_cams']
        return max_norm(F.interpolate(cams, size=inputs.shape[-2:], mode='bilinear',
                                      align_corners=False))

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(
                ori_shape=inputs.shape[2:], img_shape=inputs.shape[2:])) for _ in inputs]
        out = self.head(inputs)
        cams = max_norm(F.interpolate(out['seg_cams'], size=inputs.shape[-2:],
                                      mode='bilinear', align_corners=False))
        if self.test_cfg['use_img_labels'] and all('gt_img_labels' in ds for ds in data_samples):
            present = multi_hot(data_samples, self.num_classes, inputs.device)
        else:
            present = (out['cls_logits'].softmax(-1) > 1 / self.num_classes).to(inputs)
        for i, ds in enumerate(data_samples):
            cam = _to_original_size(cams[i:i + 1], ds.metainfo)[0] * present[i, :, None, None]
            ds.set_data(dict(pred_cam=PixelData(data=cam)))
            label = cams_to_label_map(cam, self.test_cfg['bg_threshold'])
            ds.set_data(dict(pred_sem_seg=PixelData(data=label[None])))
        return data_samples
