"""Packing for CAM models: mmseg's PackSegInputs plus the image-level labels."""
import torch
from mmseg.datasets.transforms import PackSegInputs

from mmwsss.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackCAMInputs(PackSegInputs):
    """``PackSegInputs`` that also stores the image-level labels.

    ``data_sample.gt_img_labels`` is a LongTensor of the present foreground class indices
    (1-based, as in the masks); models turn it into multi-hot targets with their own number of
    classes (``mmwsss.models.utils.multi_hot``), so the pipeline needs no class count. The mask,
    if loaded, is packed as ``gt_sem_seg`` for evaluation.
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'img_labels' not in results:
            raise KeyError(f'{results.get("img_path")}: no img_labels; add LoadImageLevelLabels '
                           'to the pipeline')
        labels = torch.as_tensor(list(results['img_labels']), dtype=torch.long)
        packed['data_samples'].set_field(labels, 'gt_img_labels')
        if results.get('mask_error'):  # the mask was dropped: scoring says why
            packed['data_samples'].set_metainfo(dict(mask_error=results['mask_error']))
        return packed
