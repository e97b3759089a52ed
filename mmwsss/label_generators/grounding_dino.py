"""mmdet's Grounding DINO for Grounded-SAM: building it from a config and local files
(checked: nothing downloads), its text encoder's sub-sentence masks made on the host, and
boxes from its token probabilities."""
import copy
import os
import os.path as osp
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from mmwsss.utils.checkpoint import MissingFileError, check_checkpoint, strip_module_prefix

# Overrides that shrink the config's Swin-T Grounding DINO to a few-layer toy (random weights,
# CPU): for tests and the --tiny benchmark, as mmwsss.models.sam's 'tiny' SAM. The text path
# stays 256 wide (mmdet fixes it).
TINY_GROUNDING_DINO = dict(
    num_queries=20,
    language_model=dict(max_tokens=64),
    backbone=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                  mlp_ratio=2, drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 128], norm_cfg=dict(type='GN', num_groups=8)),
    encoder=dict(num_layers=1,
                 layer_cfg=dict(self_attn_cfg=dict(num_heads=2, num_points=2),
                                ffn_cfg=dict(feedforward_channels=64)),
                 text_layer_cfg=dict(self_attn_cfg=dict(num_heads=2),
                                     ffn_cfg=dict(feedforward_channels=64)),
                 fusion_layer_cfg=dict(embed_dim=64, num_heads=2)),
    decoder=dict(num_layers=1,
                 layer_cfg=dict(self_attn_cfg=dict(num_heads=2),
                                cross_attn_text_cfg=dict(num_heads=2),
                                cross_attn_cfg=dict(num_heads=2, num_points=2),
                                ffn_cfg=dict(feedforward_channels=64))),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
    test_cfg=dict(max_per_img=20))
GROUNDING_DINO_ZOO = ('https://download.openmmlab.com/mmdetection/v3.0/grounding_dino/'
                      'groundingdino_swint_ogc_mmdet-822d7e9d.pth')


def sub_sentence_masks(input_ids: np.ndarray, special_ids: Sequence[int]
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Grounding DINO's sub-sentence attention mask (B×T×T bool) and position ids (B×T) of
    token ids, on the host.

    The same values as mmdet's ``generate_masks_with_special_tokens_and_transfer_map``
    (mmdet/models/language_models/bert.py; GLIP's and Grounding DINO's sub-sentence
    representation): tokens attend to the tokens of their own phrase (between two special
    tokens, the closing one included) and to themselves; positions count from 0 within a
    phrase; special tokens at either end attend to themselves only, at position 0. mmdet runs
    it on the device's token ids and reads each special token's position with a host
    synchronisation (two per special token, for every caption of a batch); here it is numpy
    on the tokenizer's output, so the text encoder's inputs reach the GPU without one.
    """
    bs, num_token = input_ids.shape
    attention = np.zeros((bs, num_token, num_token), bool)
    attention[:, np.arange(num_token), np.arange(num_token)] = True
    positions = np.zeros((bs, num_token), np.int64)
    rows, cols = np.nonzero(np.isin(input_ids, special_ids))  # row-major, as torch.nonzero
    previous = 0  # not reset between rows, as in mmdet (each row opens with [CLS] at 0)
    for row, col in zip(rows.tolist(), cols.tolist()):
        if 0 < col < num_token - 1:
            attention[row, previous + 1:col + 1, previous + 1:col + 1] = True
            positions[row, previous + 1:col + 1] = np.arange(col - previous)
        previous = col
    return attention, positions


def select_detections(token_probs: Tensor, boxes_cxcywh: Tensor, phrase_tokens: Sequence[Tensor],
                      box_threshold: float, text_threshold: float,
                      max_detections: Optional[int] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Boxes of the queries that detect a phrase, best first.

    Args:
        token_probs: (Q, T) sigmoid of Grounding DINO's query-token logits.
        boxes_cxcywh: (Q, 4) boxes, normalised cx, cy, w, h.
        phrase_tokens: per phrase, the indices of its tokens.
        box_threshold: a query is kept if its best phrase-token probability beats this.
        text_threshold: a phrase belongs to a query's detected phrase if one of its tokens
            beats this; the query's phrase is the best of those.
        max_detections: keep at most this many (highest scores).
    Returns:
        xyxy boxes (normalised, n×4), scores (n), phrase index (n).
    """
    dev = token_probs.device
    if not len(phrase_tokens) or not len(token_probs):
        return (torch.zeros(0, 4, device=dev), torch.zeros(0, device=dev),
                torch.zeros(0, dtype=torch.long, device=dev))
    phrase_scores = torch.stack([token_probs[:, t.to(dev)].amax(-1) if len(t) else
                                 token_probs.new_zeros(len(token_probs))
                                 for t in phrase_tokens], dim=1)  # (Q, P)
    in_phrase = phrase_scores > text_threshold
    masked = phrase_scores.masked_fill(~in_phrase, -1.0)
    best, phrase = masked.max(-1)  # best phrase among those in the detected phrase
    box_score = phrase_scores.max(-1).values
    keep = (box_score > box_threshold) & in_phrase.any(-1)
    idx = keep.nonzero(as_tuple=True)[0]
    order = best[idx].argsort(descending=True, stable=True)
    idx = idx[order][:max_detections] if max_detections else idx[order]
    cx, cy, w, h = boxes_cxcywh[idx].float().unbind(-1)
    xyxy = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    return xyxy, best[idx], phrase[idx]


def check_text_encoder(path: str) -> str:
    """The BERT folder of Grounding DINO must be a local folder (mmwsss never downloads)."""
    if not path or not osp.isfile(osp.join(str(path), 'config.json')):
        raise MissingFileError(
            f'Grounding DINO text encoder (BERT) folder not found: {path!r} (it needs '
            'config.json, the tokenizer files and the weights). mmwsss does not download '
            'weights; save bert-base-uncased there once, e.g. on a machine with network: '
            '`huggingface-cli download bert-base-uncased --local-dir '
            'checkpoints/bert-base-uncased`, and pass label_generator.text_encoder=<folder>')
    has = set(os.listdir(path))
    lacking = [what for what, names in (
        ('the tokenizer (vocab.txt or tokenizer.json)', {'vocab.txt', 'tokenizer.json'}),
        ('the weights (model.safetensors or pytorch_model.bin)',
         {'model.safetensors', 'pytorch_model.bin'})) if not has & names]
    if lacking:
        raise MissingFileError(f'Grounding DINO text encoder (BERT) folder {path} lacks '
                               f'{" and ".join(lacking)}; save the whole bert-base-uncased '
                               'folder there')
    return str(path)


def check_detector_checkpoint(path: str) -> str:
    """The Grounding DINO checkpoint is a whole file, or an error saying where to get it."""
    return check_checkpoint(path, 'Grounding DINO checkpoint',
                            f'download the mmdet Swin-T checkpoint ({GROUNDING_DINO_ZOO}) and '
                            'pass label_generator.detector_checkpoint=<file>')


def build_grounding_dino(detector: dict, checkpoint: Optional[str], text_encoder: Optional[str]
                         = None, device=None) -> nn.Module:
    """mmdet's ``GroundingDINO`` from a model config dict, with ``checkpoint`` loaded.

    ``text_encoder`` (a local BERT folder) replaces ``detector.language_model.name``. Files are
    checked before anything is built.
    """
    from mmengine.config import ConfigDict
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.runner.checkpoint import _load_checkpoint
    cfg = copy.deepcopy(dict(detector))
    cfg['language_model'] = dict(cfg.get('language_model') or {})
    if text_encoder:
        cfg['language_model']['name'] = text_encoder
    check_text_encoder(cfg['language_model'].get('name'))
    if checkpoint is not None:
        check_detector_checkpoint(checkpoint)
    import mmdet.models  # noqa: F401  (registers GroundingDINO and its parts)
    from mmdet.registry import MODELS as MMDET_MODELS
    logger = MMLogger.get_current_instance()
    level = logger.level
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MMDET_MODELS.build(ConfigDict(cfg))
        # parameters a checkpoint lacks must not be uninitialised memory; quietly (mmengine
        # logs one line per parameter)
        logger.setLevel('WARNING')
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    if checkpoint is not None:
        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        state = strip_module_prefix(state)
        own = model.state_dict()
        if not set(state) & set(own):
            raise ValueError(f'{checkpoint}: none of its weights fit the Grounding DINO model '
                             '(is it an mmdet Grounding DINO checkpoint?)')
        check_weight_shapes(state, own, checkpoint, cfg['language_model'].get('name'))
        missing, unexpected = model.load_state_dict(state, strict=False)
        # BERT may load from its own folder (text_encoder); the detector itself must be there.
        # A few keys may differ between mmdet versions; most of it missing is another file.
        detector_keys = [k for k in own if not k.startswith('language_model.')]
        lost = [k for k in missing if not k.startswith('language_model.')]
        if len(lost) > 0.05 * len(detector_keys):
            raise ValueError(f'Grounding DINO checkpoint {checkpoint}: {len(lost)} of the '
                             f"detector's {len(detector_keys)} weights are missing (e.g. "
                             f'{lost[:3]}); is it a complete mmdet Grounding DINO checkpoint?')
        if missing or unexpected:
            warnings.warn(f'Grounding DINO checkpoint {checkpoint}: {len(missing)} missing '
                          f'keys (e.g. {missing[:3]}), {len(unexpected)} unexpected keys '
                          f'(e.g. {unexpected[:3]})')
    model = model.to(device or 'cpu').eval()
    use_pytorch_deform_attn_without_cuda_ops(torch.device(device or 'cpu'))
    return model


def check_weight_shapes(state: dict, own: dict, checkpoint: str, text_encoder: str) -> None:
    """Weights of ``checkpoint`` whose shapes differ from the built model's are an error
    naming them (``load_state_dict`` would fail with a bare size mismatch); where the text
    path differs, the BERT folder is named: its width must be the checkpoint's."""
    wrong = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state.items()
             if k in own and hasattr(v, 'shape') and v.shape != own[k].shape]
    if not wrong:
        return
    wrong.sort(key=lambda w: w[0].startswith('language_model.'))  # BERT's own weights last
    listed = ', '.join(f'{k} {a} vs {b}' for k, a, b in wrong[:3])
    text = [k for k, _, _ in wrong if k.startswith(('language_model.', 'text_feat_map.'))]
    hint = (f'; the text encoder {text_encoder} is not the BERT the checkpoint was trained '
            'with (mmdet Grounding DINO: bert-base-uncased, 768 wide)' if text else
            '; is the model config the one the checkpoint was trained with?')
    raise ValueError(f'Grounding DINO checkpoint {checkpoint}: {len(wrong)} weights have '
                     f'other shapes than the model (checkpoint vs model: {listed}){hint}')


def use_pytorch_deform_attn_without_cuda_ops(device: torch.device) -> bool:
    """Route mmcv's ``MultiScaleDeformableAttention`` through its PyTorch implementation when
    the model runs on CUDA but mmcv was built without CUDA ops (a CPU-ops wheel on a GPU
    machine); mmcv would otherwise fail at the first forward. Returns whether it did."""
    if device.type != 'cuda':
        return False
    from mmcv.ops import get_compiling_cuda_version
    from mmcv.ops import multi_scale_deform_attn
    if get_compiling_cuda_version() != 'not available' or \
            not multi_scale_deform_attn.IS_CUDA_AVAILABLE:
        return False
    warnings.warn('mmcv was built without CUDA ops: Grounding DINO uses the PyTorch '
                  'deformable attention (slower; build mmcv with FORCE_CUDA=1 for the kernel)')
    multi_scale_deform_attn.IS_CUDA_AVAILABLE = False
    return True
