"""Pseudo-labels from a trained CAM model."""
from concurrent.futures import Future
from typing import List, Optional, Union

import numpy as np
import torch

from mmwsss.models.utils import cams_to_label_map
from mmwsss.models.builder import build_module
from mmwsss.registry import LABEL_GENERATORS
from mmwsss.utils.checkpoint import MissingFileError, load_trained_checkpoint
from mmwsss.utils.crf import CRFPool
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
        crf_workers: processes the CRFs run on while the model goes on (``CRFPool``;
            ``None``: the cores of this rank, ``0``: in this process, one image at a time).
    """

    def __init__(self, model: dict, checkpoint: str, bg_threshold: float = 0.25,
                 crf: Optional[dict] = None, crf_workers: Optional[int] = None,
                 device: Optional[str] = None) -> None:
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
        self.crf_pool = CRFPool(crf_workers, **crf) if crf is not None else None

    def generate(self, data_batch: dict) -> List[np.ndarray]:
        return [label.result() if isinstance(label, Future) else label
                for label in self.submit(data_batch)]

    @torch.no_grad()
    def submit(self, data_batch: dict) -> List[Union[np.ndarray, Future]]:
        """Thresholded labels, or with ``crf`` the ``Future`` of each image's CRF."""
        samples = self.model.test_step(data_batch)
        labels, self.last_cams = [], []
        for ds in samples:
            cam = ds.pred_cam.data.float()
            self.last_cams.append(cam.cpu().numpy())
            if self.crf_pool is not None:
                labels.append(self.crf_pool.submit(ds.metainfo['img_path'], self.last_cams[-1]))
            else:
                labels.append(cams_to_label_map(cam, self.bg_threshold).cpu().numpy()
                              .astype(np.uint8))
        return labels

    def close(self, cancel: bool = False) -> None:
        if self.crf_pool is not None:
            self.crf_pool.close(cancel)
