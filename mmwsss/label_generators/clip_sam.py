"""Seeds (pseudo-labels) from learned CLIP segmentation prompts and SAM (FMA-WSSS).

The official seed path (HAL-42/FMA-WSSS README "Usage"): Grad-CAMs of the image-level label's
classes (``src/tasks/infer_cam/run.py``), class-aware attention refinement
(``src/tasks/aff_cam/run.py``, ``src/libs/seeding/aff/caller.py: att_cam``), CAMs resized to
the image, SAMS on SAM's automatic masks (``src/tasks/anns_seed/run.py``,
``src/libs/seeding/seed_anns/score_cw.py: gather_norm_bg_argmax``). The masks come from
``mmwsss.models.sam.SamAutoMaskGenerator``, a batched port of the official multi-level generator
(``src/libs/sam/custom_sam/sam_auto.py: SamAuto``, pattern ``l2_nmsf_s1_rsw3``), and are painted
in the official level-then-confidence order.

* ``mode='fine'`` (the pseudo-labels): segmentation prompts, refinement at the CAM with box
  threshold 0.5, SAMS ``pow=0.7`` (official ``configs/VOC/seg/infer/final/...``);
* ``mode='coarse'`` (the targets of the segmentation-prompt training, ``stage='seg'``):
  classification prompts, refinement at the score with box threshold 0.4, SAMS ``pow=0.6``
  (official ``configs/VOC/cls/infer/final/...``).

Yang & Gong, "Foundation Model Assisted Weakly Supervised Semantic Segmentation".
"""
from typing import List, Optional, Union

import numpy as np
import torch

from mmwsss.models.builder import build_module
from mmwsss.models.sam import (BatchedSamPredictor, SamAutoMaskGenerator, build_sam,
                               check_sam_checkpoint, predict_everything)
from mmwsss.models.seeding import SAMSeeding
from mmwsss.models.seeding.sam_seeding import DEFAULT_CAA
from mmwsss.registry import LABEL_GENERATORS
from mmwsss.utils.checkpoint import check_checkpoint, load_trained_checkpoint
from .base import BaseLabelGenerator

__all__ = ['CLIPSAMLabelGenerator', 'SAMSeeding']
MASK_SOURCES = ('auto', 'grid')


@LABEL_GENERATORS.register_module()
class CLIPSAMLabelGenerator(BaseLabelGenerator):
    """Segmentation-prompt CAMs + SAM masks → seeds.

    Args:
        model: the ``CLIPSAMClassifier`` config (normally the training config's ``model``).
        checkpoint: the trained prompts (a tools/train.py checkpoint).
        sam_checkpoint: SAM weights (e.g. ``sam_vit_h_4b8939.pth``).
        sam_type: ``'vit_h' | 'vit_l' | 'vit_b' | 'tiny'`` or a SAM spec dict.
        mode: ``'fine'`` (default) or ``'coarse'`` seeds (see above).
        task: prompts whose CAMs are seeded (default: ``'seg'`` for fine, ``'cls'`` for coarse).
        caa: ``refine_cams`` arguments (default: ``DEFAULT_CAA[mode]``; ``False``: none).
        bg_method: background score of ``SAMSeeding`` (default: official VOC ``pow`` 0.7 fine,
            0.6 coarse).
        norm_first: ``SAMSeeding`` option (official final configs: True).
        bg_threshold: if given (e.g. by ``tools/make_pseudo_labels.py --bg-threshold``), a
            constant background score: ``bg_method=dict(method='thresh', thresh=...)``.
        mask_source: ``'auto'`` (default): the official multi-level masks
            (``SamAutoMaskGenerator``, settings ``sam_auto``) with their levels for the paint
            order; ``'grid'``: the simpler single-mask point grid (``predict_everything`` with
            ``points_per_side`` / ``pred_iou_thresh`` / ``min_area``), no levels.
        sam_auto: ``SamAutoMaskGenerator`` arguments: ``pattern`` (default the official
            ``'l2_nmsf_s1_rsw3'``) and any override of its settings.
        points_per_side / pred_iou_thresh / min_area: ``mask_source='grid'`` options.
        sam_precision / sam_decoder_batch_size: ``BatchedSamPredictor`` options.
    """

    def __init__(self, model: dict, checkpoint: str, sam_checkpoint: str,
                 sam_type: Union[str, dict] = 'vit_h', mode: str = 'fine',
                 task: Optional[str] = None, caa=None, norm_first: bool = True,
                 bg_method: Optional[dict] = None, bg_threshold: Optional[float] = None,
                 mask_source: str = 'auto', sam_auto: Optional[dict] = None,
                 points_per_side: int = 32,
                 pred_iou_thresh: float = 0.88, min_area: int = 0,
                 sam_precision: str = 'auto', sam_decoder_batch_size: int = 64,
                 device: Optional[str] = None) -> None:
        if mask_source not in MASK_SOURCES:
            raise ValueError(f'mask_source {mask_source!r}: use one of {MASK_SOURCES}')
        super().__init__(device)
        check_checkpoint(checkpoint, 'CLIP prompt checkpoint (tools/train.py output)')
        check_sam_checkpoint(sam_type, sam_checkpoint)
        model = dict(model)
        model['sam'] = None  # the generator's own SAM below; training SAM is not needed
        self.model = build_module(model)
        load_trained_checkpoint(self.model, checkpoint,
                                'CLIP prompt checkpoint (tools/train.py output)')
        self.model.to(self.device).eval()
        self.sam = BatchedSamPredictor(build_sam(sam_type, sam_checkpoint, self.device),
                                   precision=sam_precision,
                                   decoder_batch_size=sam_decoder_batch_size)
        if bg_threshold is not None:
            bg_method = dict(method='thresh', thresh=float(bg_threshold))
        self.seeding = SAMSeeding(mode, bg_method, norm_first=norm_first)
        self.task = task or dict(fine='seg', coarse='cls')[mode]
        self.caa = DEFAULT_CAA[mode] if caa is None else (dict(caa) if caa else None)
        self.mask_source = mask_source
        self.mask_generator = (SamAutoMaskGenerator(self.sam, **dict(sam_auto or {}))
                               if mask_source == 'auto' else None)
        self.points_per_side = points_per_side
        self.pred_iou_thresh = pred_iou_thresh
        self.min_area = min_area

    @torch.no_grad()
    def sam_masks(self, images: List[torch.Tensor]):
        """Per image (n, H, W) bool SAM masks and their levels (``None`` for ``'grid'``)."""
        # LoadImageFromFile gives BGR images; SAM wants RGB
        if self.mask_generator is not None:
            out = self.mask_generator.generate(images, bgr=True)
            return [o['masks'] for o in out], [o['levels'] for o in out]
        masks = predict_everything(self.sam, images, self.points_per_side,
                                   self.pred_iou_thresh, self.min_area, bgr=True)
        return masks, [None] * len(masks)

    @torch.no_grad()
    def generate(self, data_batch: dict) -> List[np.ndarray]:
        """Seeds of a batch; images of different sizes go through CLIP in one pass per size
        (its attention spans the whole image, so padding would change the CAMs)."""
        groups: dict = {}
        for i, img in enumerate(data_batch['inputs']):
            groups.setdefault(tuple(img.shape), []).append(i)
        if len(groups) < 2:
            return self._generate(data_batch)
        n = len(data_batch['inputs'])
        labels, cams = [None] * n, [None] * n
        for idx in groups.values():
            sub = {k: [data_batch[k][i] for i in idx] for k in ('inputs', 'data_samples')}
            for i, label, cam in zip(idx, self._generate(sub), self.last_cams):
                labels[i], cams[i] = label, cam
        self.last_cams = cams
        return labels

    def _generate(self, data_batch: dict) -> List[np.ndarray]:
        from mmwsss.models.utils import multi_hot, to_original_size
        model = self.model
        data = model.data_preprocessor(data_batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        for ds in samples:  # each image has its image-level labels, or an error says not
            self.present_classes(ds)
        present = multi_hot(samples, model.num_classes, inputs.device)
        cams = model.task_cams(inputs, present, self.task, self.caa)
        masks, levels = self.sam_masks(list(data_batch['inputs']))
        labels, self.last_cams = [], []
        for i, (ds, m, lv) in enumerate(zip(samples, masks, levels)):
            cam = to_original_size(cams[i:i + 1], ds.metainfo)[0] * present[i, :, None, None]
            seed = self.seeding(m, cam, present[i], levels=lv)
            labels.append(seed.cpu().numpy().astype(np.uint8))
            self.last_cams.append(cam.cpu().numpy())
        return labels
