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

from mmwsss.utils.checkpoint import check_file

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
    return check_file(checkpoint, f'SAM {model_type} checkpoint', hint)


def build_sam(model_type: Union[str, dict], checkpoint: str, device=None):
    """Build SAM and load ``checkpoint`` (a local file: a plain state dict as released, or a
    dict with ``state_dict`` / ``model``). A missing file raises ``FileNotFoundError`` naming
    the path and where to get it; a checkpoint of another architecture raises ``ValueError``."""
    check_sam_checkpoint(model_type, checkpoint)
    sam = build_sam_model(model_type)
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    if isinstance(state, dict):
        for key in ('state_dict', 'model'):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
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
    """

    def __init__(self, sam, precision: str = 'auto', encoder_batch_size: int = 8,
                 decoder_batch_size: int = 64) -> None:
        if precision not in ('auto', 'bf16', 'fp32'):
            raise ValueError(f"precision {precision!r}: use 'auto', 'bf16' or 'fp32'")
        self.sam = sam.eval()
        self.precision = precision
        self.encoder_batch_size = max(1, int(encoder_batch_size))
        self.decoder_batch_size = max(1, int(decoder_batch_size))

    @property
    def device(self) -> torch.device:
        return self.sam.pixel_mean.device

    @property
    def img_size(self) -> int:
        return self.sam.image_encoder.img_size

    @property
    def use_bf16(self) -> bool:
        return self.precision == 'bf16' or (self.precision == 'auto'
                                            and self.device.type == 'cuda')

    def autocast(self):
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

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
        with self.autocast():
            for i in range(0, len(x), self.encoder_batch_size):
                chunks.append(self.sam.image_encoder(x[i:i + self.encoder_batch_size]))
        return SamImageBatch(torch.cat(chunks), list(input_sizes), list(original_sizes))

    @torch.no_grad()
    def decode(self, features: SamImageBatch, image_index: Tensor,
               boxes: Optional[Tensor] = None,
               points: Optional[Tuple[Tensor, Tensor]] = None) -> Tuple[Tensor, Tensor]:
        """Low-resolution mask logits (N×1×s×s, fp32) and predicted IoUs (N) of N prompts of
        any images of ``features``, single-mask output (``multimask_output=False``).

        Args:
            image_index: (N,) index of each prompt's image in ``features``.
            boxes: (N, 4) xyxy boxes in the pixels of each prompt's original image.
            points: optional ((N, P, 2) xy pixel coordinates, (N, P) labels 1/0).
        """
        n = len(image_index)
        if boxes is None and points is None:
            raise ValueError('give boxes or points')
        if n == 0:
            s = 4 * features.embeddings.shape[-1]
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
                      bgr: bool = False) -> List[Tensor]:
        """Masks (n_i×H_i×W_i bool) for the xyxy pixel boxes (n_i×4) of each image. Images
        without boxes are not encoded."""
        keep = [i for i, b in enumerate(boxes) if len(b)]
        out = [torch.zeros(0, *img.shape[-2:], dtype=torch.bool, device=self.device)
               for img in images]
        if not keep:
            return out
        feats = self.encode([images[i] for i in keep], bgr=bgr)
        image_index = torch.cat([torch.full((len(boxes[i]),), j, dtype=torch.long)
                                 for j, i in enumerate(keep)])
        low_res, _ = self.decode(feats, image_index, torch.cat([boxes[i] for i in keep]))
        start = 0
        for j, i in enumerate(keep):
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
