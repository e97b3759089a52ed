"""Seeds (pseudo-labels) from learned CLIP segmentation prompts and SAM (FMA-WSSS).

The trained ``CLIPSAMClassifier`` gives the segmentation-prompt CAMs (its ``predict``: CAMs
of the image-level label's classes only, max-normalised); SAM's "everything" masks of the
image (``sam_utils.predict_everything``) and ``SAMSeeding`` (fine mode by default) turn them
into the seed map. Yang & Gong, "Foundation Model Assisted Weakly Supervised Semantic
Segmentation"; official code HAL-42/FMA-WSSS.
"""
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.runner import load_checkpoint

from mmwsss.models.builder import build_module
from mmwsss.models.seeding import SAMSeeding
from mmwsss.registry import LABEL_GENERATORS
from mmwsss.utils.checkpoint import check_file
from .base import BaseLabelGenerator
from .sam_utils import SamBoxPredictor, build_sam, check_sam_checkpoint, predict_everything

__all__ = ['CLIPSAMLabelGenerator', 'SAMSeeding']


@LABEL_GENERATORS.register_module()
class CLIPSAMLabelGenerator(BaseLabelGenerator):
    """Segmentation-prompt CAMs + SAM masks → seeds.

    Args:
        model: the ``CLIPSAMClassifier`` config (normally the training config's ``model``).
        checkpoint: the trained prompts (a tools/train.py checkpoint).
        sam_checkpoint: SAM weights (e.g. ``sam_vit_h_4b8939.pth``).
        sam_type: ``'vit_h' | 'vit_l' | 'vit_b' | 'tiny'`` or a SAM spec dict.
        mode: ``'fine'`` (default) or ``'coarse'`` seeding (``SAMSeeding``).
        bg_method: background score of ``SAMSeeding`` (official: ``dict(method='pow', pow=3)``).
        bg_threshold: if given (e.g. by ``tools/make_pseudo_labels.py --bg-threshold``), a
            constant background score: ``bg_method=dict(method='thresh', thresh=...)``.
        points_per_side / pred_iou_thresh / min_area: SAM everything-mask options.
        sam_precision / sam_decoder_batch_size: ``SamBoxPredictor`` options.
    """

    def __init__(self, model: dict, checkpoint: str, sam_checkpoint: str,
                 sam_type: Union[str, dict] = 'vit_h', mode: str = 'fine',
                 bg_method: Optional[dict] = None, bg_threshold: Optional[float] = None,
                 points_per_side: int = 32,
                 pred_iou_thresh: float = 0.88, min_area: int = 0,
                 sam_precision: str = 'auto', sam_decoder_batch_size: int = 64,
                 device: Optional[str] = None) -> None:
        super().__init__(device)
        check_file(checkpoint, 'CLIP prompt checkpoint (tools/train.py output)')
        check_sam_checkpoint(sam_type, sam_checkpoint)
        model = dict(model)
        model['sam'] = None  # the generator's own SAM below; training SAM is not needed
        self.model = build_module(model)
        load_checkpoint(self.model, checkpoint, map_location='cpu')
        self.model.to(self.device).eval()
        self.sam = SamBoxPredictor(build_sam(sam_type, sam_checkpoint, self.device),
                                   precision=sam_precision,
                                   decoder_batch_size=sam_decoder_batch_size)
        if bg_threshold is not None:
            bg_method = dict(method='thresh', thresh=float(bg_threshold))
        self.seeding = SAMSeeding(mode, bg_method)
        self.points_per_side = points_per_side
        self.pred_iou_thresh = pred_iou_thresh
        self.min_area = min_area

    @torch.no_grad()
    def generate(self, data_batch: dict) -> List[np.ndarray]:
        samples = self.model.test_step(data_batch)
        # LoadImageFromFile gives BGR images; SAM wants RGB
        masks = predict_everything(self.sam, list(data_batch['inputs']), self.points_per_side,
                                   self.pred_iou_thresh, self.min_area, bgr=True)
        labels, self.last_cams = [], []
        for ds, m in zip(samples, masks):
            cam = ds.pred_cam.data.float()
            present = torch.zeros(len(cam), device=cam.device)
            for c in self.present_classes(ds):
                present[int(c) - 1] = 1
            seed = self.seeding(m, cam, present)
            labels.append(seed.cpu().numpy().astype(np.uint8))
            self.last_cams.append(cam.cpu().numpy())
        return labels
