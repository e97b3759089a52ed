"""Base class of stage-1 label generators."""
from abc import ABCMeta, abstractmethod
from concurrent.futures import Future
from typing import List, Optional, Union

import numpy as np
import torch
from mmseg.structures import SegDataSample


class BaseLabelGenerator(metaclass=ABCMeta):
    """Turns a collated batch (``dict(inputs=[...], data_samples=[...])``, as mmseg's test
    dataloader gives it) into one uint8 label map per image at its original size.

    Label values: 0 background, 1..K-1 classes, 255 ignore. A generator must never label a
    class the image-level label says is absent. ``generate`` may also fill ``self.last_cams``
    (list of C×H×W arrays or None) for overlays.

    ``batch_grouping`` tells ``generate_pseudo_labels`` how to batch images:
    ``'size'`` (images of one size per batch, so labels do not depend on the batch) or
    ``'orientation'`` (the generator takes mixed sizes; see ``batches_by_image_size``).
    """

    batch_grouping: str = 'size'

    def __init__(self, device: Optional[str] = None) -> None:
        self.device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        self.last_cams: List[Optional[np.ndarray]] = []

    @abstractmethod
    def generate(self, data_batch: dict) -> List[np.ndarray]:
        """Label maps for every image of the batch."""

    def submit(self, data_batch: dict) -> List[Union[np.ndarray, Future]]:
        """``generate``, where a label may instead be the ``Future`` of work still going on
        off the main process (``CAMLabelGenerator``'s CRF), so that the label run goes on to
        the next batch; its writer waits for the labels."""
        return self.generate(data_batch)

    def close(self, cancel: bool = False) -> None:
        """Release what the generator holds beyond memory (worker processes), after the
        labels it was given (``cancel``: only those begun; for Ctrl-C)."""

    @staticmethod
    def present_classes(data_sample: SegDataSample) -> List[int]:
        """Class indices (1-based) of the image-level label."""
        if 'gt_img_labels' not in data_sample:
            raise KeyError(f'{data_sample.metainfo.get("img_path")}: no image-level labels; the '
                           'label pipeline needs LoadImageLevelLabels and PackCAMInputs')
        return data_sample.gt_img_labels.tolist()
