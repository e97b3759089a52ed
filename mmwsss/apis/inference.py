"""CAMs of single images from a trained CAM model, as ``mmseg.apis`` does for segmenters."""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmseg.structures import SegDataSample

from mmwsss.registry import DATASETS, MODELS
from mmwsss.utils import check_file, load_trained_checkpoint

# transforms that read annotations a single image does not have
_LABEL_TRANSFORMS = ('LoadAnnotations', 'LoadAnnotationsIfAny', 'LoadImageLevelLabels')


def init_cam_model(config: Union[str, Config], checkpoint: Optional[str] = None,
                   device: str = 'cpu') -> torch.nn.Module:
    """Build the config's CAM model, load ``checkpoint`` and set it to eval on ``device``.

    ``model.cfg`` keeps the config and ``model.dataset_meta`` the class names (from the
    checkpoint's meta, else from the config's dataset class).
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if 'pseudo_label_dataloader' not in cfg:
        raise ValueError(f'{getattr(cfg, "filename", None) or config} is not a CAM config (it '
                         'has no pseudo_label_dataloader): give the config the CAM model was '
                         'trained with')
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    model = MODELS.build(cfg.model)  # pretrained init_cfg is not applied: the checkpoint is
    meta = {}
    if checkpoint is not None:
        ckpt = load_trained_checkpoint(model, checkpoint, 'CAM model checkpoint')
        meta = ckpt.get('meta', {}).get('dataset_meta') or {}
    if 'classes' not in meta:
        dataset_type = cfg.pseudo_label_dataloader.dataset.type
        meta = dict(DATASETS.get(dataset_type).METAINFO)
    model.cfg, model.dataset_meta = cfg, meta
    return model.to(device).eval()


def class_indices(names: Sequence[str], classes: Sequence[str]) -> List[int]:
    """Dataset indices of class ``names`` (background is 0); an unknown name is an error that
    lists the valid ones."""
    unknown = [n for n in names if n not in classes[1:]]
    if unknown:
        raise KeyError(f'unknown classes {unknown}; this model knows {list(classes[1:])}')
    return sorted({list(classes).index(n) for n in names})


def inference_cam(model: torch.nn.Module, img: Union[str, np.ndarray],
                  classes: Optional[Sequence[str]] = None) -> SegDataSample:
    """CAMs and the label map of one image (a path or a BGR array).

    ``classes``: the image-level label (class names); their CAMs are kept, as in label
    generation. Without it, the classes the model scores positive are kept. Returns the data
    sample with ``pred_cam`` (C×H×W, normalised by the model's ``test_cfg.norm``) and
    ``pred_sem_seg``.
    """
    steps = [dict(t) for t in model.cfg.pseudo_label_dataloader.dataset.pipeline
             if t['type'].split('.')[-1] not in _LABEL_TRANSFORMS]
    if isinstance(img, np.ndarray):
        steps[0] = dict(type='LoadImageFromNDArray')
        results = dict(img=img)
    else:
        results = dict(img_path=check_file(img, 'image', weights=False))
    if classes is None:  # no image-level label to pack: mmseg's packer
        steps = [dict(type='PackSegInputs') if t['type'].split('.')[-1] == 'PackCAMInputs'
                 else t for t in steps]
    else:
        results['img_labels'] = class_indices(classes, model.dataset_meta['classes'])
    data = Compose(steps)(results)
    with torch.no_grad():
        return model.test_step(pseudo_collate([data]))[0]


def save_cam_demo(model: torch.nn.Module, img: str, out_dir: str,
                  classes: Optional[Sequence[str]] = None, name: Optional[str] = None) -> str:
    """Run ``inference_cam`` on an image file and write image | label overlay | one CAM
    heatmap per kept class to ``out_dir/<name>.png`` (default: the image's name); returns
    the path."""
    from mmwsss.visualization import save_cam_and_label_overlay
    sample = inference_cam(model, img, classes)
    label = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
    cams = sample.pred_cam.data.float().cpu().numpy()
    palette = model.dataset_meta.get('palette') or DATASETS.get(
        model.cfg.pseudo_label_dataloader.dataset.type).METAINFO['palette']
    return save_cam_and_label_overlay(osp.abspath(img), label, cams, palette, out_dir,
                                      name=name)
