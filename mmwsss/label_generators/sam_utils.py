"""Segment Anything (SAM) helpers shared by the foundation-model label generators.

``build_sam`` builds a SAM model from ``segment_anything``'s own classes and loads a local
checkpoint (mmwsss never downloads). ``SamBoxPredictor`` is a batched replacement for
``segment_anything.SamPredictor``: it encodes a whole batch of images in one (chunked) pass of
the image encoder and decodes the masks of all prompts of the batch together, each prompt
attending to the embedding of its own image. ``SamPredictor`` encodes one image at a time and
decodes the prompts of that image only.

``segment_anything`` is imported lazily, so importing mmwsss does not need it.
"""
import contextlib
from functools import partial
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.checkpoint import check_checkpoint, load_weights_file
from mmwsss.utils.precision import check_precision, precision_autocast, uses_bf16

SAM_RELEASE = 'https://github.com/facebookresearch/segment-anything#model-checkpoints'
# File names of the official SAM checkpoints (segment-anything release).
SAM_CHECKPOINTS = {
    'vit_h': 'sam_vit_h_4b8939.pth',
    'vit_l': 'sam_vit_l_0b3195.pth',
    'vit_b': 'sam_vit_b_01ec64.pth',
}
# A very small SAM of the same architecture, for tests and CPU benchmarks (random weights).
TINY_SAM = dict(
    image_size=64, patch_size=16, encoder_embed_dim=32, encoder_depth=1, encoder_num_heads=2,
    encoder_global_attn_indexes=(), window_size=0, use_rel_pos=False, prompt_embed_dim=32,
    decoder_depth=1, decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32)
SAM_TYPES = ('vit_h', 'vit_l', 'vit_b', 'tiny')


def sdpa_attention_forward(self, x: Tensor) -> Tensor:
    """``segment_anything.modeling.image_encoder.Attention.forward`` through
    ``F.scaled_dot_product_attention``: the same math (softmax(q·kᵀ·scale + rel-pos bias)·v,
    the decomposed relative-position terms of ``add_decomposed_rel_pos`` added as an additive
    mask), but a fused kernel instead of a materialised fp32 attention map and softmax."""
    from segment_anything.modeling.image_encoder import get_rel_pos
    b, h, w, _ = x.shape
    qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # (B, heads, HW, C)
    bias = None
    if self.use_rel_pos:
        rh = get_rel_pos(h, h, self.rel_pos_h).to(q.dtype)
        rw = get_rel_pos(w, w, self.rel_pos_w).to(q.dtype)
        rq = q.reshape(b, self.num_heads, h, w, -1)
        rel_h = torch.einsum('bnhwc,hkc->bnhwk', rq, rh)
        rel_w = torch.einsum('bnhwc,wkc->bnhwk', rq, rw)
        bias = (rel_h[..., :, None] + rel_w[..., None, :]).reshape(
            b, self.num_heads, h * w, h * w)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
    return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


@contextlib.contextmanager
def sdpa_image_encoder(image_encoder):
    """Run SAM's image encoder with ``sdpa_attention_forward`` inside the block; the module's
    own ``forward`` is restored after it (so a model shared with a reference path stays as
    segment-anything built it)."""
    from segment_anything.modeling.image_encoder import Attention
    blocks = [m for m in image_encoder.modules() if isinstance(m, Attention)]
    for m in blocks:
        m.forward = partial(sdpa_attention_forward, m)
    try:
        yield
    finally:
        for m in blocks:
            del m.forward


def build_sam_model(model_type: Union[str, dict] = 'vit_h'):
    """A SAM with random weights, from ``segment_anything``'s classes.

    Args:
        model_type: ``'vit_h' | 'vit_l' | 'vit_b'`` (the official architectures, built by
            ``segment_anything.sam_model_registry``), ``'tiny'`` (``TINY_SAM``) or a dict with
            the keys of ``TINY_SAM`` for any other size.
    """
    from segment_anything import sam_model_registry
    if isinstance(model_type, str) and model_type in sam_model_registry \
            and model_type != 'default':
        return sam_model_registry[model_type](checkpoint=None).eval()
    if model_type == 'tiny':
        spec = dict(TINY_SAM)
    elif isinstance(model_type, dict):
        unknown = set(model_type) - set(TINY_SAM)
        if unknown:
            raise KeyError(f'unknown SAM spec keys {sorted(unknown)}; known: {sorted(TINY_SAM)}')
        spec = dict(TINY_SAM, **model_type)
    else:
        raise ValueError(f'SAM model_type {model_type!r}: use one of {SAM_TYPES} or a dict '
                         'with the keys of mmwsss.label_generators.sam_utils.TINY_SAM')
    return _sam_from_spec(**spec).eval()


def _sam_from_spec(image_size, patch_size, encoder_embed_dim, encoder_depth, encoder_num_heads,
                   encoder_global_attn_indexes, window_size, use_rel_pos, prompt_embed_dim,
                   decoder_depth, decoder_mlp_dim, decoder_num_heads, iou_head_hidden_dim):
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)
    embed_size = image_size // patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=encoder_depth, embed_dim=encoder_embed_dim, img_size=image_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=encoder_num_heads,
            patch_size=patch_size, qkv_bias=True, use_rel_pos=use_rel_pos,
            global_attn_indexes=tuple(encoder_global_attn_indexes), window_size=window_size,
            out_chans=prompt_embed_dim),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_embed_dim, image_embedding_size=(embed_size, embed_size),
            input_image_size=(image_size, image_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=decoder_depth, embedding_dim=prompt_embed_dim,
                                          mlp_dim=decoder_mlp_dim, num_heads=decoder_num_heads),
            transformer_dim=prompt_embed_dim, iou_head_depth=3,
            iou_head_hidden_dim=iou_head_hidden_dim),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])


def check_sam_checkpoint(model_type: Union[str, dict], checkpoint: str) -> str:
    """``checkpoint`` if it is a file, else ``FileNotFoundError`` naming it and its source."""
    name = SAM_CHECKPOINTS.get(model_type) if isinstance(model_type, str) else None
    hint = (f'download {name} from the segment-anything release ({SAM_RELEASE}) and pass '
            'its path' if name else
            f'give a SAM checkpoint saved for model_type={model_type!r}')
    return check_checkpoint(checkpoint, f'SAM {model_type} checkpoint', hint)


def build_sam(model_type: Union[str, dict], checkpoint: str, device=None):
    """Build SAM and load ``checkpoint`` (a local file: a plain state dict as released, or a
    dict with ``state_dict`` / ``model``). A missing file raises ``FileNotFoundError`` naming
    the path and where to get it; a checkpoint of another architecture raises ``ValueError``."""
    check_sam_checkpoint(model_type, checkpoint)
    sam = build_sam_model(model_type)
    state = load_weights_file(checkpoint, f'SAM {model_type} checkpoint')
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f'{checkpoint} is not a SAM {model_type} checkpoint (set sam_type to '
                         f'the architecture it was saved for): {str(e)[:600]}') from e
    return sam.to(device or 'cpu').eval()


def sam_input_size(h: int, w: int, long_side: int) -> Tuple[int, int]:
    """SAM's ``ResizeLongestSide.get_preprocess_shape``."""
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


class SamImageBatch:
    """Image embeddings of a batch and the sizes that map prompts and masks to each image."""

    def __init__(self, embeddings: Tensor, input_sizes: List[Tuple[int, int]],
                 original_sizes: List[Tuple[int, int]]) -> None:
        self.embeddings = embeddings
        self.input_sizes = input_sizes
        self.original_sizes = original_sizes

    def __len__(self) -> int:
        return len(self.input_sizes)


class SamBoxPredictor:
    """Batched SAM inference: one image-encoder pass per batch, all prompts decoded together.

    Args:
        sam: a ``segment_anything.modeling.Sam`` (e.g. from ``build_sam``).
        precision: ``'fp32'``; ``'bf16'`` (image encoder and mask decoder under
            ``torch.autocast(dtype=bfloat16)`` on the model's device type; mask up-sampling
            and thresholding stay in fp32); ``'auto'``: bf16 on CUDA, fp32 elsewhere.
        encoder_batch_size: images per image-encoder pass (bounds activation memory).
        decoder_batch_size: prompts per mask-decoder pass.
        sdpa: image-encoder attention through ``F.scaled_dot_product_attention``
            (``sdpa_attention_forward``); False runs segment-anything's own attention.
    """

    def __init__(self, sam, precision: str = 'auto', encoder_batch_size: int = 8,
                 decoder_batch_size: int = 64, sdpa: bool = True) -> None:
        check_precision(precision, 'SAM precision')
        self.sam = sam.eval()
        self.precision = precision
        self.encoder_batch_size = max(1, int(encoder_batch_size))
        self.decoder_batch_size = max(1, int(decoder_batch_size))
        self.sdpa = sdpa

    @property
    def device(self) -> torch.device:
        return self.sam.pixel_mean.device

    @property
    def img_size(self) -> int:
        return self.sam.image_encoder.img_size

    @property
    def use_bf16(self) -> bool:
        return uses_bf16(self.precision, self.device)

    def autocast(self):
        return precision_autocast(self.precision, self.device)

    def preprocess(self, images: Sequence[Tensor], bgr: bool = False) -> Tuple[Tensor, list, list]:
        """Resize (long side to the encoder size, bilinear with anti-aliasing like
        ``SamPredictor.set_image``), normalise and pad a list of C×H×W images (uint8 or float,
        0..255) into one N×3×S×S batch."""
        batch, input_sizes, original_sizes = [], [], []
        for img in images:
            img = img.to(self.device, non_blocking=True).float()
            if bgr:
                img = img.flip(0)
            h, w = img.shape[-2:]
            size = sam_input_size(h, w, self.img_size)
            if size != (h, w):
                img = F.interpolate(img[None], size, mode='bilinear', align_corners=False,
                                    antialias=True)[0]
            batch.append(self.sam.preprocess(img[None])[0])
            input_sizes.append(size)
            original_sizes.append((h, w))
        return torch.stack(batch), input_sizes, original_sizes

    @torch.no_grad()
    def encode(self, images: Sequence[Tensor], bgr: bool = False) -> SamImageBatch:
        """Image embeddings of a list of C×H×W images (RGB unless ``bgr``)."""
        x, input_sizes, original_sizes = self.preprocess(images, bgr)
        return self.encode_preprocessed(x, input_sizes, original_sizes)

    @torch.no_grad()
    def encode_preprocessed(self, x: Tensor, input_sizes, original_sizes) -> SamImageBatch:
        chunks = []
        attention = (sdpa_image_encoder(self.sam.image_encoder) if self.sdpa
                     else contextlib.nullcontext())
        with self.autocast(), attention:
            for i in range(0, len(x), self.encoder_batch_size):
                chunks.append(self.sam.image_encoder(x[i:i + self.encoder_batch_size]))
        return SamImageBatch(torch.cat(chunks), list(input_sizes), list(original_sizes))

    @torch.no_grad()
    def decode(self, features: SamImageBatch, image_index: Tensor,
               boxes: Optional[Tensor] = None,
               points: Optional[Tuple[Tensor, Tensor]] = None,
               multimask_output: bool = False) -> Tuple[Tensor, Tensor]:
        """Low-resolution mask logits (N×1×s×s, fp32) and predicted IoUs (N) of N prompts of
        any images of ``features``, single-mask output (``multimask_output=False``).

        Args:
            image_index: (N,) index of each prompt's image in ``features``.
            boxes: (N, 4) xyxy boxes in the pixels of each prompt's original image.
            points: optional ((N, P, 2) xy pixel coordinates, (N, P) labels 1/0).
            multimask_output: the three multimask outputs instead (``MaskDecoder.forward``
                with ``multimask_output=True``: mask tokens 1..3): logits N×3×s×s and IoUs
                N×3, SAM's levels 0 (sub-part), 1 (part), 2 (whole object).
        """
        n = len(image_index)
        if boxes is None and points is None:
            raise ValueError('give boxes or points')
        if n == 0:
            s = 4 * features.embeddings.shape[-1]
            if multimask_output:
                return (torch.zeros(0, 3, s, s, device=self.device),
                        torch.zeros(0, 3, device=self.device))
            return (torch.zeros(0, 1, s, s, device=self.device),
                    torch.zeros(0, device=self.device))
        image_index = image_index.to(self.device).long()
        boxes_in = None
        if boxes is not None:
            boxes_in = self._to_input_frame(boxes.reshape(-1, 2, 2), features, image_index)
            boxes_in = boxes_in.reshape(-1, 4)
        points_in = None
        if points is not None:
            points_in = (self._to_input_frame(points[0], features, image_index),
                         points[1].to(self.device))
        masks, ious = [], []
        step = self.decoder_batch_size
        with self.autocast():
            for i in range(0, n, step):
                sl = slice(i, i + step)
                sparse, dense = self.sam.prompt_encoder(
                    points=None if points_in is None else (points_in[0][sl], points_in[1][sl]),
                    boxes=None if boxes_in is None else boxes_in[sl], masks=None)
                m, iou = self._predict_masks(features.embeddings[image_index[sl]], sparse, dense)
                if multimask_output:
                    masks.append(m[:, 1:].float())
                    ious.append(iou[:, 1:].float())
                else:
                    masks.append(m[:, :1].float())
                    ious.append(iou[:, 0].float())
        return torch.cat(masks), torch.cat(ious)

    def _to_input_frame(self, coords: Tensor, features: SamImageBatch, image_index: Tensor):
        """Scale (N, P, 2) xy pixel coordinates of the original images to the encoder input."""
        scale = torch.tensor([[ins[1] / ori[1], ins[0] / ori[0]] for ins, ori in
                              zip(features.input_sizes, features.original_sizes)],
                             device=self.device, dtype=torch.float)
        return coords.to(self.device).float() * scale[image_index][:, None, :]

    def _predict_masks(self, src: Tensor, sparse: Tensor, dense: Tensor):
        """``MaskDecoder.predict_masks`` with one image embedding per prompt (the original
        repeats one image's embedding for all prompts)."""
        md = self.sam.mask_decoder
        tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
        tokens = tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((tokens, sparse), dim=1)
        src = src + dense
        pos_src = self.sam.prompt_encoder.get_dense_pe().expand(src.shape[0], -1, -1, -1)
        b, c, h, w = src.shape
        hs, src = md.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1:(1 + md.num_mask_tokens), :]
        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = md.output_upscaling(src)
        hyper_in = torch.stack([md.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                                for i in range(md.num_mask_tokens)], dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, md.iou_prediction_head(iou_token_out)

    def postprocess(self, low_res: Tensor, features: SamImageBatch, image: int,
                    return_logits: bool = False) -> Tensor:
        """Masks (n×H×W, bool unless ``return_logits``) of ``image`` at its original size, from
        its prompts' low-resolution logits (n×1×s×s)."""
        if len(low_res) == 0:
            h, w = features.original_sizes[image]
            return torch.zeros(0, h, w, dtype=torch.float if return_logits else torch.bool,
                               device=low_res.device)
        out = []
        for i in range(0, len(low_res), self.decoder_batch_size):  # bounded memory
            up = self.sam.postprocess_masks(low_res[i:i + self.decoder_batch_size].float(),
                                            features.input_sizes[image],
                                            features.original_sizes[image])[:, 0]
            out.append(up if return_logits else up > self.sam.mask_threshold)
        return torch.cat(out)

    @torch.no_grad()
    def predict_boxes(self, images: Sequence[Tensor], boxes: Sequence[Tensor],
                      bgr: bool = False,
                      features: Optional[SamImageBatch] = None) -> List[Tensor]:
        """Masks (n_i×H_i×W_i bool) for the xyxy pixel boxes (n_i×4) of each image.

        Args:
            features: the images' embeddings (``encode(images)``), if already computed;
                otherwise the images with boxes are encoded here (the others are not).
        """
        keep = [i for i, b in enumerate(boxes) if len(b)]
        out = [torch.zeros(0, *img.shape[-2:], dtype=torch.bool, device=self.device)
               for img in images]
        if not keep:
            return out
        if features is None:
            feats, slot = self.encode([images[i] for i in keep], bgr=bgr), range(len(keep))
        else:
            if len(features) != len(images):
                raise ValueError(f'{len(features)} image embeddings for {len(images)} images')
            feats, slot = features, keep
        image_index = torch.cat([torch.full((len(boxes[i]),), j, dtype=torch.long)
                                 for j, i in zip(slot, keep)])
        low_res, _ = self.decode(feats, image_index, torch.cat([boxes[i] for i in keep]))
        start = 0
        for j, i in zip(slot, keep):
            n = len(boxes[i])
            out[i] = self.postprocess(low_res[start:start + n], feats, j)
            start += n
        return out


def point_grid(h: int, w: int, points_per_side: int) -> Tensor:
    """(P², 2) xy pixel coordinates of SAM's automatic-mask grid (cell centres, as
    ``segment_anything.utils.amg.build_point_grid``) on an H×W image."""
    offset = 1 / (2 * points_per_side)
    side = torch.linspace(offset, 1 - offset, points_per_side)
    ys, xs = torch.meshgrid(side, side, indexing='ij')
    return torch.stack([xs.flatten() * w, ys.flatten() * h], dim=-1)


@torch.no_grad()
def predict_everything(predictor: SamBoxPredictor, images: Sequence[Tensor],
                       points_per_side: int = 32, pred_iou_thresh: float = 0.88,
                       min_area: int = 0, bgr: bool = False) -> List[Tensor]:
    """"Everything" masks: SAM prompted by a regular point grid on each image.

    A simplified ``SamAutomaticMaskGenerator`` on top of ``SamBoxPredictor``: the batch is
    encoded once, the grid points of all images are decoded together in chunks of
    ``decoder_batch_size`` (single-mask output), masks whose predicted IoU is below
    ``pred_iou_thresh`` or whose area is below ``min_area`` are dropped, and identical masks
    are kept once. No crops, stability score or box NMS (deviations from the original).

    Returns:
        per image, (n_i, H_i, W_i) bool masks sorted by decreasing area.
    """
    if not len(images):
        return []
    feats = predictor.encode(images, bgr=bgr)
    grids = [point_grid(*size, points_per_side) for size in feats.original_sizes]
    image_index = torch.cat([torch.full((len(g),), i, dtype=torch.long)
                             for i, g in enumerate(grids)])
    coords = torch.cat(grids)[:, None, :]
    labels = torch.ones(len(coords), 1, dtype=torch.long)
    low_res, ious = predictor.decode(feats, image_index, points=(coords, labels))
    out, start = [], 0
    for i, g in enumerate(grids):
        sl = slice(start, start + len(g))
        start += len(g)
        keep = (ious[sl] >= pred_iou_thresh).nonzero(as_tuple=True)[0]
        masks = predictor.postprocess(low_res[sl][keep], feats, i)
        if len(masks):
            areas = masks.flatten(1).sum(1)
            masks = masks[areas > max(0, min_area - 1)]
            if len(masks):
                masks = torch.unique(masks.flatten(1), dim=0).reshape(-1, *masks.shape[1:])
                masks = masks[masks.flatten(1).sum(1).argsort(descending=True)]
        out.append(masks)
    return out


# ------------------------------------------------------------------ FMA-WSSS SamAuto
# Mask-generator patterns of the official FMA-WSSS code (HAL-42/FMA-WSSS,
# configs/sam_auto_seg/patterns/mask_gen_ini.py). The official VOC and COCO seeds use
# 'l2_nmsf_s1_rsw3' (configs/VOC/sams/cfg.py, configs/COCO/sams/cfg.py); 'official_default' is
# segment-anything's SamAutomaticMaskGenerator with its own defaults.
_SAM_AUTO_BASE = dict(
    points_per_side=32, pred_iou_thresh=0.86, stability_score_thresh=0.92,
    stability_score_offset=1.0, box_nms_thresh=0.7, crop_n_layers=1, crop_nms_thresh=0.7,
    crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=2, min_mask_region_area=100,
    score_thresh_offset=(0.0, 0.0, 0.0), score_nms_offset=(0.0, 0.0, 0.0),
    stability_score_bias=(0.0, 0.0, 0.0), rock_sand_water_thresh=None)
SAM_AUTO_PATTERNS = {
    'official_default': dict(_SAM_AUTO_BASE, pred_iou_thresh=0.88, stability_score_thresh=0.95,
                             crop_n_layers=0, crop_n_points_downscale_factor=1,
                             min_mask_region_area=0),
    'official_heavy': dict(_SAM_AUTO_BASE),
    'ssa_default': dict(_SAM_AUTO_BASE, crop_n_layers=0),
    'l2_nmsf': dict(_SAM_AUTO_BASE, score_nms_offset=(0.0, 0.0, 1.0)),
    'l2_nmsf_s1': dict(_SAM_AUTO_BASE, score_thresh_offset=(0.0, 0.0, 0.1),
                       score_nms_offset=(0.0, 0.0, 1.0)),
    'l2_nmsf_s1_rsw3': dict(_SAM_AUTO_BASE, score_thresh_offset=(0.0, 0.0, 0.1),
                            score_nms_offset=(0.0, 0.0, 1.0), rock_sand_water_thresh=0.3),
}
SAM_AUTO_LEVELS = 3  # SAM's multimask outputs: 0 sub-part, 1 part, 2 whole object


def rock_sand_water(masks: Tensor, levels: Tensor, thresh: float,
                    chunk_size: int = 64) -> Tensor:
    """Indices of the masks kept by the official "rock-sand-water" filter, in the official
    order (``src/libs/sam/custom_sam/sam_auto.py: SamAuto.rock_sand_water``).

    Levels are visited from the whole objects (2) down to the sub-parts (0). The first
    non-empty level is kept whole and starts the kept set; a mask of a later level is kept
    only if its largest recall ``|m ∩ k| / |m|`` over the kept masks ``k`` (the larger levels
    already kept) is below ``thresh``, and is then added to the kept set. A part mostly
    covered by a whole object is dropped; a part outside every larger mask stays. An empty
    mask has recall NaN and is dropped (as in the official code).

    Args:
        masks: (n, H, W) bool.
        levels: (n,) SAM level of each mask.
        chunk_size: masks per intersection product (bounds memory; the result is the same).
    """
    levels = torch.as_tensor(levels, device=masks.device)
    flat = masks.flatten(1)
    kept = torch.zeros(0, dtype=torch.long, device=masks.device)
    for level in reversed(range(SAM_AUTO_LEVELS)):
        idx = (levels == level).nonzero(as_tuple=True)[0]
        if not len(kept):
            kept = idx
            continue
        if not len(idx):
            continue
        ref = flat[kept].float().t()  # (HW, k)
        recall = []
        for i in range(0, len(idx), max(1, chunk_size)):
            part = flat[idx[i:i + max(1, chunk_size)]].float()
            recall.append((part @ ref) / part.sum(1, keepdim=True))
        max_recall = torch.cat(recall).amax(1)
        kept = torch.cat([kept, idx[max_recall < thresh]])
    return kept


class SamAutoMaskGenerator:
    """Batched port of the official FMA-WSSS mask generator: multi-level SAM "everything"
    masks on a point grid (HAL-42/FMA-WSSS ``src/libs/sam/custom_sam/sam_auto.py: SamAuto``,
    a subclass of ``segment_anything.SamAutomaticMaskGenerator``; run by
    ``src/tasks/sam_auto_seg/run.py``; pattern ``'l2_nmsf_s1_rsw3'`` by default, as the
    official ``configs/VOC/sams/cfg.py`` and ``configs/COCO/sams/cfg.py``).

    The same steps as the official ``SamAuto.generate``, reimplemented on top of
    ``SamBoxPredictor`` (all crops of all images encoded in one chunked pass, the grid points of
    all crops decoded together):

    1. crops (``_generate_masks``; ``amg.generate_crop_boxes``): the whole image plus, for
       ``crop_n_layers=1``, 2×2 overlapping crops; each crop is encoded on its own with the
       point grid ``points_per_side / crop_n_points_downscale_factor ** layer``;
    2. every point gives SAM's 3 multimask outputs; the mask of level ``l`` keeps its
       ``level`` (``_process_batch``);
    3. predicted IoU ``+ score_thresh_offset[l] > pred_iou_thresh`` (strict, skipped when the
       threshold is 0); stability score (``amg.calculate_stability_score``, cut-offs
       ``mask_threshold ± stability_score_offset``) ``+ stability_score_bias[l] >=
       stability_score_thresh``; masks whose box touches a crop edge that is not an image edge
       are dropped (``amg.is_box_near_crop_edge``);
    4. box NMS inside each crop (``box_nms_thresh``) ranked by predicted IoU
       ``+ score_nms_offset[l]`` (``_process_crop``): with ``(0, 0, 1)`` a whole-object mask
       beats any overlapping part mask;
    5. NMS between crops (``crop_nms_thresh``) preferring smaller crops (``_generate_masks``);
    6. small-region clean-up (``SamAutomaticMaskGenerator.postprocess_small_regions``;
       ``amg.remove_small_regions``): holes then islands below ``min_mask_region_area`` px,
       then NMS (``max(box_nms_thresh, crop_nms_thresh)``) preferring unchanged masks;
    7. the "rock-sand-water" filter (``rock_sand_water``), if ``rock_sand_water_thresh``.

    Args:
        predictor: a ``SamBoxPredictor``.
        pattern: a key of ``SAM_AUTO_PATTERNS`` (the official settings) or ``None``
            (``'official_default'``).
        **overrides: any setting of the pattern (the ``SamAuto`` argument names).

    ``generate`` returns per image a dict: ``masks`` (n, H, W) bool, ``levels`` (n,) long,
    ``iou_preds`` (n,) (without offsets), ``stability_scores`` (n,), ``boxes`` (n, 4) xyxy,
    ``crop_boxes`` (n, 4) xyxy, in the official order (after NMS / rock-sand-water).
    """

    KEYS = tuple(_SAM_AUTO_BASE)

    def __init__(self, predictor: SamBoxPredictor, pattern: Optional[str] = 'l2_nmsf_s1_rsw3',
                 **overrides) -> None:
        from segment_anything.utils.amg import build_all_layer_point_grids
        key = pattern or 'official_default'
        if key not in SAM_AUTO_PATTERNS:
            raise KeyError(f'SamAuto pattern {pattern!r}: use one of {sorted(SAM_AUTO_PATTERNS)}')
        unknown = set(overrides) - set(self.KEYS)
        if unknown:
            raise KeyError(f'unknown SamAuto settings {sorted(unknown)}; known: {self.KEYS}')
        cfg = dict(SAM_AUTO_PATTERNS[key], **overrides)
        self.predictor = predictor
        self.pattern = key
        self.cfg = cfg
        for k, v in cfg.items():
            setattr(self, k, v)
        for k in ('score_thresh_offset', 'score_nms_offset', 'stability_score_bias'):
            t = torch.as_tensor(cfg[k], dtype=torch.float)
            if t.shape != (SAM_AUTO_LEVELS,):
                raise ValueError(f'{k} {cfg[k]}: one value per SAM level (3)')
            setattr(self, k, t)
        self.point_grids = [torch.as_tensor(g, dtype=torch.float) for g in
                            build_all_layer_point_grids(self.points_per_side, self.crop_n_layers,
                                                        self.crop_n_points_downscale_factor)]

    @property
    def mask_threshold(self) -> float:
        return self.predictor.sam.mask_threshold

    # ------------------------------------------------------------------ steps
    def filter_masks(self, logits: Tensor, iou_preds: Tensor, crop_box: Sequence[int],
                     orig_size: Tuple[int, int], levels: Optional[Tensor] = None) -> dict:
        """Official ``SamAuto._process_batch`` after the decoder: thresholds and crop-edge
        filter of mask logits at the crop's size.

        Args:
            logits: (n, H_c, W_c) mask logits (n = points × 3 in the official order).
            iou_preds: (n,) predicted IoUs.
            crop_box: xyxy crop in the image; orig_size: the image's (H, W).
            levels: (n,) level of each mask (default: 0, 1, 2 repeated).

        Returns: dict of ``masks`` (bool, crop frame), ``boxes`` (crop frame), ``iou_preds``,
        ``iou_preds_nms``, ``stability_scores``, ``levels`` of the kept masks.
        """
        from segment_anything.utils.amg import (batched_mask_to_box, calculate_stability_score,
                                                is_box_near_crop_edge)
        dev = logits.device
        if levels is None:
            levels = torch.arange(SAM_AUTO_LEVELS, device=dev).repeat(len(logits) // 3)
        levels = levels.to(dev).long()
        iou_preds = iou_preds.to(dev).float()
        keep = torch.ones(len(logits), dtype=torch.bool, device=dev)
        if self.pred_iou_thresh > 0.0:
            keep = iou_preds + self.score_thresh_offset.to(dev)[levels] > self.pred_iou_thresh
        logits, iou_preds, levels = logits[keep], iou_preds[keep], levels[keep]
        stability = calculate_stability_score(logits, self.mask_threshold,
                                              self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            keep = (stability + self.stability_score_bias.to(dev)[levels]
                    >= self.stability_score_thresh)
            logits, iou_preds, levels, stability = (logits[keep], iou_preds[keep], levels[keep],
                                                    stability[keep])
        masks = logits > self.mask_threshold
        boxes = batched_mask_to_box(masks)
        h, w = orig_size
        keep = ~is_box_near_crop_edge(boxes, list(crop_box), [0, 0, w, h])
        return dict(masks=masks[keep], boxes=boxes[keep], iou_preds=iou_preds[keep],
                    iou_preds_nms=iou_preds[keep] + self.score_nms_offset.to(dev)[levels[keep]],
                    stability_scores=stability[keep], levels=levels[keep])

    def crop_nms(self, data: dict, crop_box: Sequence[int], orig_size: Tuple[int, int]) -> dict:
        """Official ``SamAuto._process_crop`` after the batches: box NMS of one crop's masks
        ranked by ``iou_preds_nms``, then masks and boxes moved to the image frame
        (``amg.uncrop_masks``, ``amg.uncrop_boxes_xyxy``)."""
        from segment_anything.utils.amg import uncrop_boxes_xyxy, uncrop_masks
        from torchvision.ops import batched_nms
        keep = batched_nms(data['boxes'].float(), data['iou_preds_nms'],
                           torch.zeros_like(data['boxes'][:, 0]),
                           iou_threshold=self.box_nms_thresh)
        out = {k: v[keep] for k, v in data.items()}
        h, w = orig_size
        out['masks'] = uncrop_masks(out['masks'], list(crop_box), h, w)
        out['boxes'] = uncrop_boxes_xyxy(out['boxes'], list(crop_box))
        out['crop_boxes'] = torch.tensor([list(crop_box)] * len(keep),
                                         device=out['boxes'].device).reshape(-1, 4)
        return out

    def merge_crops(self, crops: List[dict]) -> dict:
        """Official ``SamAutomaticMaskGenerator._generate_masks``: the crops' masks in crop
        order, NMS between crops (``crop_nms_thresh``) preferring the smaller crop."""
        from torchvision.ops import batched_nms, box_area
        data = {k: torch.cat([c[k] for c in crops]) for k in crops[0]}
        if len(crops) > 1:
            scores = 1 / box_area(data['crop_boxes']).float()
            keep = batched_nms(data['boxes'].float(), scores,
                               torch.zeros_like(data['boxes'][:, 0]),
                               iou_threshold=self.crop_nms_thresh)
            data = {k: v[keep] for k, v in data.items()}
        return data

    def remove_small_regions(self, data: dict) -> dict:
        """Official ``SamAutomaticMaskGenerator.postprocess_small_regions``: fill holes and
        remove islands below ``min_mask_region_area`` px (``amg.remove_small_regions``), new
        boxes, NMS (``max(box_nms_thresh, crop_nms_thresh)``) with score 1 for unchanged and 0
        for changed masks."""
        from segment_anything.utils.amg import batched_mask_to_box, remove_small_regions
        from torchvision.ops import batched_nms
        if not len(data['masks']):
            return data
        new_masks, scores = [], []
        for m in data['masks'].cpu().numpy():
            m, changed = remove_small_regions(m, self.min_mask_region_area, mode='holes')
            unchanged = not changed
            m, changed = remove_small_regions(m, self.min_mask_region_area, mode='islands')
            new_masks.append(torch.as_tensor(m))
            scores.append(float(unchanged and not changed))
        masks = torch.stack(new_masks).to(data['masks'].device)
        boxes = batched_mask_to_box(masks)
        keep = batched_nms(boxes.float(), torch.tensor(scores, device=boxes.device),
                           torch.zeros_like(boxes[:, 0]),
                           iou_threshold=max(self.box_nms_thresh, self.crop_nms_thresh))
        out = {k: v[keep] for k, v in data.items()}
        out['masks'], out['boxes'] = masks[keep], boxes[keep].to(out['boxes'])
        return out

    def rock_sand_water(self, data: dict) -> dict:
        """Official ``SamAuto.rock_sand_water`` (see ``rock_sand_water``)."""
        if not len(data['masks']):
            return data
        keep = rock_sand_water(data['masks'], data['levels'], self.rock_sand_water_thresh)
        return {k: v[keep] for k, v in data.items()}

    # --------------------------------------------------------------- generate
    @torch.no_grad()
    def generate(self, images: Sequence[Tensor], bgr: bool = False) -> List[dict]:
        """Masks of a list of C×H×W images (uint8 or float 0..255, RGB unless ``bgr``)."""
        from segment_anything.utils.amg import generate_crop_boxes
        if not len(images):
            return []
        pred = self.predictor
        crops, crop_imgs = [], []  # (image, crop box, layer)
        for i, img in enumerate(images):
            h, w = img.shape[-2:]
            boxes, layers = generate_crop_boxes((h, w), self.crop_n_layers,
                                                self.crop_overlap_ratio)
            for box, layer in zip(boxes, layers):
                x0, y0, x1, y1 = box
                crops.append((i, box, layer))
                crop_imgs.append(img[:, y0:y1, x0:x1])
        feats = pred.encode(crop_imgs, bgr=bgr)
        grids = [self.point_grids[layer] * torch.tensor(
            [[box[2] - box[0], box[3] - box[1]]], dtype=torch.float) for _, box, layer in crops]
        crop_index = torch.cat([torch.full((len(g),), j, dtype=torch.long)
                                for j, g in enumerate(grids)])
        coords = torch.cat(grids)[:, None, :]
        per_crop: List[List[dict]] = [[] for _ in crops]
        step = pred.decoder_batch_size
        for start in range(0, len(coords), step):
            idx = crop_index[start:start + step]
            labels = torch.ones(len(idx), 1, dtype=torch.long)
            low_res, ious = pred.decode(feats, idx, points=(coords[start:start + step], labels),
                                        multimask_output=True)
            for j in idx.unique().tolist():
                sel = (idx == j).to(low_res.device)
                s = low_res.shape[-1]
                logits = pred.postprocess(low_res[sel].reshape(-1, 1, s, s), feats, j,
                                          return_logits=True)
                i, box, _ = crops[j]
                per_crop[j].append(self.filter_masks(logits, ious[sel].flatten(), box,
                                                     tuple(images[i].shape[-2:])))
        out = []
        for i, img in enumerate(images):
            size = tuple(img.shape[-2:])
            data = [self.crop_nms({k: torch.cat([b[k] for b in per_crop[j]])
                                   for k in per_crop[j][0]}, box, size)
                    for j, (ii, box, _) in enumerate(crops) if ii == i]
            data = self.merge_crops(data)
            if self.min_mask_region_area > 0:
                data = self.remove_small_regions(data)
            if self.rock_sand_water_thresh is not None:
                data = self.rock_sand_water(data)
            data.pop('iou_preds_nms')
            out.append(data)
        return out
