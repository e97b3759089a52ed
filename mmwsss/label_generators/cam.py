"""Pseudo-labels from a trained CAM model."""
from typing import List, Optional

import numpy as np
import torch

from mmwsss.models.utils import cams_to_label_map
from mmwsss.models.builder import build_module
from mmwsss.registry import LABEL_GENERATORS
from mmwsss.utils.checkpoint import MissingFileError, load_trained_checkpoint
from mmwsss.utils.crf import crf_refine_cams
from .base import BaseLabelGenerator


@LABEL_GENERATORS.register_module()
class CAMLabelGenerator(BaseLabelGenerator):
    """Threshold the CAMs of a trained ``CAMClassifier`` (any CAM method) into label maps.

    The model's own ``predict`` (multi-scale + flip from its ``test_cfg``, CAMs kept only for
    the image-level label's classes) gives normalised CAMs; a pixel gets the top class if its
    score beats ``bg_threshold``, else background. With ``crf`` set, a dense CRF refines
    the label map from the CAM scores and the image (as PSA/SEAM do).

    Args:
        model: the CAM model config (normally the training config's ``model``).
        checkpoint: trained weights.
        bg_threshold: background score.
        crf: ``None`` or a dict of ``crf_refine_cams`` arguments (e.g. ``dict(alpha=...)``).
    """

    def __init__(self, model: dict, checkpoint: str, bg_threshold: float = 0.25,
                 crf: Optional[dict] = None, device: Optional[str] = None) -> None:
        super().__init__(device)
        self.model = build_module(model)
        if checkpoint is None:
            raise MissingFileError('the CAM label generator needs the trained model: pass its '
                                   'checkpoint (tools/make_pseudo_labels.py CONFIG CKPT --out '
                                   'DIR) or set label_generator.checkpoint')
        load_trained_checkpoint(self.model, checkpoint, 'CAM model checkpoint')
        self.model.to(self.device).eval()
        self.bg_threshold = bg_threshold
        self.crf = crf

    @torch.no_grad()
    def generate(self, data_batch: dict) -> List[np.ndarray]:
        samples = self.model.test_step(data_batch)
        labels, self.last_cams = [], []
        for ds in samples:
            cam = ds.pred_cam.data.float()
            if self.crf is not None:
                label = crf_refine_cams(ds.metainfo['img_path'], cam.cpu().numpy(), **self.crf)
            else:
                label = cams_to_label_map(cam, self.bg_threshold).cpu().numpy()
            labels.append(label.astype(np.uint8))
            self.last_cams.append(cam.cpu().numpy())
        return labels
