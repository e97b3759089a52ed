"""Building Segment Anything (SAM) from ``segment_anything``'s own classes with a local
checkpoint (mmwsss never downloads), and its image encoder with fused attention.
``segment_anything`` is imported lazily, so importing mmwsss does not need it."""
import contextlib
from functools import partial
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.checkpoint import check_checkpoint, load_weights_file

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
                         'with the keys of mmwsss.models.sam.TINY_SAM')
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
