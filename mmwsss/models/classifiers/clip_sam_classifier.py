"""CLIP + SAM prompt learning for WSSS seeds (Yang & Gong, "Foundation Model Assisted Weakly
Supervised Semantic Segmentation", WACV 2024; official code HAL-42/FMA-WSSS).

``CLIPSAMClassifier`` trains the prompts of a frozen CLIP (``CLIPPromptHead``). The official
training is two-stage (README "Usage"; ``src/tasks/train_coop/run.py`` run twice):

* ``train_cfg=dict(stage='cls')`` (official ``configs/VOC/cls/cfg.py``): the classification
  prompts, multi-label contrastive loss on the image-level labels only;
* then the coarse seeds are written offline (``CLIPSAMLabelGenerator(mode='coarse')``:
  classification-prompt Grad-CAMs, class-aware attention refinement at the score, SAMS with
  ``pow=0.6``; official ``src/tasks/infer_cam``, ``src/tasks/aff_cam``, ``src/tasks/anns_seed``);
* ``train_cfg=dict(stage='seg')`` (official ``configs/VOC/seg/cfg.py``): the segmentation prompts,
  CAM activation loss of their Grad-CAMs against the offline coarse seeds, read as the
  ``gt_sem_seg`` of the samples (``PseudoLabelDataset``); the classification loss has weight 0
  there, so it is not computed.

``stage='joint'`` (default, as the paper's text describes it) trains both prompt sets in one
run: the coarse seed of every batch is made on the fly from SAM masks and the current
(detached) classification-prompt CAMs, refined as in the offline path.

``predict`` returns the Grad-CAMs of ``test_cfg.cam_task`` (``'seg'`` by default) as
``pred_cam`` so that ``CAMMetric`` / ``CAMLabelGenerator`` work as for any CAM model;
``CLIPSAMLabelGenerator`` turns them into SAM seeds.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.structures import SegDataSample
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.utils.precision import precision_autocast
from ..builder import build_module
from ..seeding import SAMSeeding
from ..seeding.sam_seeding import (DEFAULT_CAA, attention_affinity, cam_to_score,
                                   refine_cams)
from ..utils import image_label_classes, multi_hot, pack_cam_predictions

STAGES = ('joint', 'cls', 'seg')

@MODELS.register_module()
class CLIPSAMClassifier(BaseModel):
    """Frozen CLIP with learnable classification and segmentation prompts, trained with SAM
    coarse seeds. Only ``head.cls_ctx`` and ``head.seg_ctx`` require gradients.

    Args:
        head: ``CLIPPromptHead`` config.
        loss_cls: image-level loss (``MultiLabelContrastiveLoss``) on the classification
            logits (foreground prompts only, as the official ``gcam_clip_out_to_cls_loss``).
        loss_act: ``CAMActivationLoss`` of the segmentation Grad-CAMs against the coarse seed.
        sam: ``dict(sam_type=..., checkpoint=..., mask_source=..., sam_auto=...,
            decoder_batch_size=..., encoder_batch_size=..., precision=...)`` for the
            on-the-fly coarse seeds of ``stage='joint'``; SAM is frozen and not saved in the
            model's checkpoints. ``mask_source='auto'`` (default): the official multi-level
            masks (``SamAutoMaskGenerator(**sam_auto)``, default pattern
            ``'l2_nmsf_s1_rsw3'``) painted in level order; ``'grid'``: the single-mask grid
            (``predict_everything`` with ``points_per_side``, ``pred_iou_thresh``,
            ``min_area``). ``None``: every pixel is its own region.
        seeding: ``SAMSeeding`` arguments of the coarse seed (``stage='joint'``).
        caa: class-aware attention refinement of the classification CAMs before the coarse
            seeding (``refine_cams`` arguments; official VOC: ``DEFAULT_CAA['coarse']``);
            ``None``: no refinement.
        train_cfg: ``stage`` (``'joint'``, ``'cls'``, ``'seg'``); ``labels_from_seed`` (stage
            ``'seg'``: the present classes are those of the cropped seed, the official VOC
            ``ol_cls_lb=True``; default True).
        test_cfg: ``cam_task`` (``'seg'`` or ``'cls'``: which prompts' CAMs ``predict`` gives),
            ``caa`` (refinement in ``predict``, default none as the official CAM validation),
            ``bg_threshold`` of ``pred_sem_seg`` (default 0.3); ``use_img_labels``.
    """

    def __init__(self, head: dict, loss_cls: Optional[dict] = None,
                 loss_act: Optional[dict] = None, sam: Optional[dict] = None,
                 seeding: Optional[dict] = None, caa: Optional[dict] = DEFAULT_CAA['coarse'],
                 data_preprocessor: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.head = build_module(head)
        self.loss_cls = build_module(loss_cls or dict(type='MultiLabelContrastiveLoss'))
        self.loss_act = build_module(loss_act or dict(type='CAMActivationLoss'))
        self.sam_cfg = dict(sam) if sam else None
        if self.sam_cfg is not None:
            from mmwsss.models.sam import check_sam_checkpoint
            check_sam_checkpoint(self.sam_cfg.get('sam_type', 'vit_h'),
                                 self.sam_cfg.get('checkpoint'))
            if self.sam_cfg.get('mask_source', 'auto') not in ('auto', 'grid'):
                raise ValueError(f"sam.mask_source {self.sam_cfg['mask_source']!r}: use 'auto' "
                                 "or 'grid'")
        self._sam = [None]  # not a sub-module: frozen, kept out of state_dict / optimiser
        self._sam_auto = [None]
        self.seeding = SAMSeeding(**dict(dict(mode='coarse'), **(seeding or {})))
        self.caa = dict(caa) if caa else None
        self.train_cfg = dict(stage='joint', labels_from_seed=True)
        self.train_cfg.update(train_cfg or {})
        if self.train_cfg['stage'] not in STAGES:
            raise ValueError(f"train_cfg.stage {self.train_cfg['stage']!r}: use one of {STAGES}")
        self.test_cfg = dict(bg_threshold=0.3, use_img_labels=True, cam_task='seg', caa=None)
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
            return self.head(inputs, image_label_classes(data_samples, self.num_classes,
                                                         inputs.device))
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    # ------------------------------------------------------------------ SAM
    @property
    def sam_predictor(self):
        if self.sam_cfg is None:
            return None
        if self._sam[0] is None:
            from mmwsss.models.sam import BatchedSamPredictor, build_sam
            cfg = self.sam_cfg
            sam = build_sam(cfg.get('sam_type', 'vit_h'), cfg['checkpoint'],
                            self.head.cls_ctx.device)
            for p in sam.parameters():
                p.requires_grad_(False)
            self._sam[0] = BatchedSamPredictor(sam, precision=cfg.get('precision', 'auto'),
                                           encoder_batch_size=cfg.get('encoder_batch_size', 8),
                                           decoder_batch_size=cfg.get('decoder_batch_size', 64))
        return self._sam[0]

    def raw_images(self, inputs: Tensor) -> List[Tensor]:
        """0..255 RGB images back from the normalised inputs."""
        dp = self.data_preprocessor
        if getattr(dp, '_enable_normalize', False):
            inputs = inputs * dp.std + dp.mean
        return [x.clamp(0, 255) for x in inputs]

    @torch.no_grad()
    def sam_masks(self, inputs: Tensor) -> Tuple[List[Tensor], List[Optional[Tensor]]]:
        """Per image (n, H, W) bool SAM masks of the inputs and their SAM levels (``None``
        with ``mask_source='grid'``)."""
        from mmwsss.models.sam import SamAutoMaskGenerator, predict_everything
        cfg = self.sam_cfg
        source = cfg.get('mask_source', 'auto')
        if source == 'auto':
            if self._sam_auto[0] is None:
                self._sam_auto[0] = SamAutoMaskGenerator(self.sam_predictor,
                                                         **dict(cfg.get('sam_auto') or {}))
            out = self._sam_auto[0].generate(self.raw_images(inputs))
            return [o['masks'] for o in out], [o['levels'] for o in out]
        if source != 'grid':
            raise ValueError(f"sam.mask_source {source!r}: use 'auto' or 'grid'")
        masks = predict_everything(self.sam_predictor, self.raw_images(inputs),
                                   points_per_side=cfg.get('points_per_side', 32),
                                   pred_iou_thresh=cfg.get('pred_iou_thresh', 0.88),
                                   min_area=cfg.get('min_area', 0))
        return masks, [None] * len(masks)

    # ----------------------------------------------------------------- CAMs
    @staticmethod
    def refine(out: Dict, task: str, present: Tensor, caa: Optional[dict]) -> Tensor:
        """(N, C, h, w) CAMs of ``task`` from a head output (with ``attn`` if ``caa``), each
        image's present-class CAMs refined by ``refine_cams`` (official
        ``src/tasks/aff_cam/run.py``); absent classes stay 0."""
        cams = out[f'{task}_cams'].detach().float()
        if not caa:
            return cams
        caa = dict(caa)
        aff_args = dict(last_n_layers=caa.pop('last_n_layers', 8),
                        sinkhorn_iters=caa.pop('sinkhorn_iters', 1))
        refined = torch.zeros_like(cams)
        # fp32 also inside a bf16 training step (the joint stage): seeding, not learning
        with precision_autocast('fp32', cams.device):
            for i in range(len(cams)):
                idx = (present[i] > 0).nonzero(as_tuple=True)[0]
                if not len(idx):
                    continue
                aff = attention_affinity([a[i] for a in out['attn']], **aff_args)
                refined[i, idx] = refine_cams(cams[i, idx], aff, **caa)
        return refined

    def task_cams(self, inputs: Tensor, present: Tensor, task: str,
                  caa: Optional[dict] = None) -> Tensor:
        """(N, C, H, W) raw (``caa=None``) or refined Grad-CAMs of the ``task`` prompts at the
        input size, absent classes 0 (used by ``predict`` and ``CLIPSAMLabelGenerator``)."""
        out = self.head(inputs, present, cam_tasks=(task,), train_cams=(),
                        need_attn=bool(caa))
        cams = self.refine(out, task, present, caa)
        return F.interpolate(cams, size=inputs.shape[-2:], mode='bilinear', align_corners=False)

    @torch.no_grad()
    def coarse_seeds(self, inputs: Tensor, cls_cams: Tensor, present: Tensor) -> Tensor:
        """(N, H, W) coarse seeds from SAM masks and the (refined, detached) classification
        CAMs (N, C, h, w), in fp32 also inside a bf16 training step (SAM keeps its own
        ``precision``)."""
        with precision_autocast('fp32', inputs.device):
            return self._coarse_seeds(inputs, cls_cams, present)

    def _coarse_seeds(self, inputs: Tensor, cls_cams: Tensor, present: Tensor) -> Tensor:
        h, w = inputs.shape[-2:]
        cams = F.interpolate(cls_cams.float(), size=(h, w), mode='bilinear',
                             align_corners=False) * present[..., None, None]
        if self.sam_cfg is None:  # no SAM: every pixel is its own region
            fg = SAMSeeding._norm(cams.clamp(min=0).flatten(2)).reshape(cams.shape)
            fg = fg * present[..., None, None]
            bg = torch.stack([self.seeding.background(f) for f in fg])
            return torch.cat([bg, fg], dim=1).argmax(1)
        masks, levels = self.sam_masks(inputs)
        return torch.stack([self.seeding(m, c, p, levels=lv)
                            for m, c, p, lv in zip(masks, cams, present, levels)])

    # ---------------------------------------------------------------- train
    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        stage = self.train_cfg['stage']
        present = multi_hot(data_samples, self.num_classes, inputs.device)
        if stage == 'cls':
            out = self.head(inputs, present, cam_tasks=())
            return dict(loss_cls=self.loss_cls(out['cls_logits'], present))
        if stage == 'seg':
            seeds = torch.stack([ds.gt_sem_seg.data.reshape(inputs.shape[-2:])
                                 for ds in data_samples]).long().to(inputs.device)
            if self.train_cfg['labels_from_seed']:  # official ol_cls_lb: classes of the crop
                present = torch.stack([torch.bincount(
                    s[(s > 0) & (s <= self.num_classes)].flatten(),
                    minlength=self.num_classes + 1)[1:] > 0 for s in seeds]).float()
            out = self.head(inputs, present, cam_tasks=('seg',))
            return dict(loss_act=self.loss_act(out['seg_cams'], seeds, present))
        out = self.head(inputs, present, cam_tasks=('cls', 'seg'), train_cams=('seg',),
                        need_attn=bool(self.caa))
        cls_cams = self.refine(out, 'cls', present, self.caa)
        seeds = self.coarse_seeds(inputs, cls_cams, present)
        return dict(loss_cls=self.loss_cls(out['cls_logits'], present),
                    loss_act=self.loss_act(out['seg_cams'], seeds, present))

    # -------------------------------------------------------------- predict
    def predict_present(self, inputs: Tensor, data_samples) -> Tensor:
        """(N, C) classes whose CAMs are computed: the image-level labels when given
        (``test_cfg.use_img_labels``), else classes whose softmax score over the
        classification prompts beats 1 / C."""
        present = image_label_classes(data_samples, self.num_classes, inputs.device,
                                      self.test_cfg['use_img_labels'])
        if present is not None:
            return present
        with torch.no_grad():
            logits = self.head(inputs, cam_tasks=())['cls_logits']
        return (logits.softmax(-1) > 1 / self.num_classes).to(inputs)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        present = self.predict_present(inputs, data_samples)
        cams = self.task_cams(inputs, present, self.test_cfg['cam_task'], self.test_cfg['caa'])
        # normalised within the image: padding (to the patch size) cropped away first
        return pack_cam_predictions(cams, present, data_samples, self.test_cfg['bg_threshold'],
                                    inputs.shape[2:], cam_to_score)
