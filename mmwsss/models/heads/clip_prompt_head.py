"""CLIPPromptHead: a frozen open_clip model with learnable (CoOp-style) task prompts.

Follows "Foundation Model Assisted Weakly Supervised Semantic Segmentation" (Yang & Gong,
WACV 2024; official code HAL-42/FMA-WSSS): CLIP is frozen; two sets of learnable context
vectors are prepended to every class name, one for classification, one for segmentation
(the paper's task-specific prompts). Classification: image-text cosine similarity of the
pooled image feature with the classification prompts' text features (times CLIP's logit
scale). Segmentation: the same similarity per patch token (projected by ``ln_post`` /
``proj`` as the pooled token is) with the segmentation prompts' text features, which gives
the CAMs. The text side is CoOp's ``TextEncoder``/``PromptLearner``: the prompt
``"X X ... X <class>."`` is tokenised and the embeddings of the ``X`` placeholders are replaced
by the learned context vectors.

Only the two context tensors (``cls_ctx``, ``seg_ctx``) are trainable.
"""
import copy
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.utils.checkpoint import check_file

OPEN_CLIP_HINT = ('download the open_clip / OpenAI CLIP weights of the chosen architecture '
                  '(e.g. ViT-B-16 "openai") once on a machine with network and pass '
                  'pretrained=<file>')


def build_open_clip(clip: dict, pretrained: Optional[str] = None) -> nn.Module:
    """An open_clip ``CLIP`` from a config, with a local weights file loaded (never downloads).

    Args:
        clip: ``dict(model_name='ViT-B-16-quickgelu')`` (an open_clip built-in architecture;
            OpenAI's weights need the ``-quickgelu`` variants) or
            ``dict(embed_dim=..., vision_cfg=dict(...), text_cfg=dict(...))`` (any size, e.g. a
            tiny one for tests).
        pretrained: a state dict file (open_clip's or OpenAI's ``.pt``/``.bin``); ``None``
            keeps random weights (tests only).
    """
    import open_clip
    cfg = copy.deepcopy(dict(clip))
    if pretrained is not None:
        check_file(pretrained, 'CLIP weights', OPEN_CLIP_HINT)
    if 'model_name' in cfg:
        model = open_clip.create_model(cfg.pop('model_name'), pretrained=None, **cfg)
    else:
        model = open_clip.model.CLIP(**cfg)
    if pretrained is not None:
        try:
            state = torch.load(pretrained, map_location='cpu', weights_only=True)
        except Exception:  # an OpenAI TorchScript archive
            state = torch.jit.load(pretrained, map_location='cpu').state_dict()
        if isinstance(state, dict):
            for key in ('state_dict', 'model'):
                if isinstance(state.get(key), dict):
                    state = state[key]
        state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
        # OpenAI archives also hold these three scalars, not parameters of open_clip's CLIP
        for key in ('input_resolution', 'context_length', 'vocab_size'):
            state.pop(key, None)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ValueError(f'{pretrained} does not fit the CLIP architecture {clip}: '
                             f'{str(e)[:600]}') from e
    return model.eval()


@MODELS.register_module()
class CLIPPromptHead(nn.Module):
    """Frozen CLIP + learnable classification / segmentation prompts.

    Args:
        clip: open_clip architecture (see ``build_open_clip``).
        class_names: foreground class names (prompt text), in label order (class 1 first).
        pretrained: CLIP weights file (``None``: random weights, tests only).
        n_ctx: context vectors per prompt (CoOp's M; the paper uses 16).
        ctx_std: init std of the context vectors (CoOp: 0.02).
        context_length: text token length (CLIP: 77).
        csc: class-specific context (CoOp's CSC: one context per class; the official
            segmentation-task config uses it, the classification task shares one context).
            A bool for both tasks or ``dict(cls=False, seg=True)``.
    """

    def __init__(self, clip: dict, class_names: Sequence[str], pretrained: Optional[str] = None,
                 n_ctx: int = 16, ctx_std: float = 0.02, context_length: int = 77,
                 csc=False) -> None:
        super().__init__()
        import open_clip
        self.clip = build_open_clip(clip, pretrained)
        for p in self.clip.parameters():
            p.requires_grad_(False)
        self.class_names = [str(c).replace('_', ' ') for c in class_names]
        self.num_classes = len(self.class_names)
        self.n_ctx = int(n_ctx)
        context_length = min(int(context_length), self.clip.positional_embedding.shape[0])
        prompts = [' '.join(['X'] * self.n_ctx) + ' ' + name + '.' for name in self.class_names]
        tokens = open_clip.tokenize(prompts, context_length=context_length)
        self.register_buffer('tokens', tokens, persistent=False)
        width = self.clip.token_embedding.weight.shape[1]
        csc = dict(csc) if isinstance(csc, dict) else dict(cls=bool(csc), seg=bool(csc))
        self.csc = dict(cls=bool(csc.get('cls', False)), seg=bool(csc.get('seg', False)))

        def ctx(task):
            shape = (self.num_classes, self.n_ctx, width) if self.csc[task] else (self.n_ctx,
                                                                                   width)
            return nn.Parameter(torch.randn(shape) * ctx_std)
        self.cls_ctx = ctx('cls')
        self.seg_ctx = ctx('seg')

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip.eval()  # frozen: dropout / norms always in eval mode
        return self

    # ------------------------------------------------------------------ text
    def text_features(self, task: str) -> Tensor:
        """(C, D) L2-normalised text features of the ``'cls'`` or ``'seg'`` prompts
        (CoOp ``TextEncoder``: token embeddings with the context spliced in, CLIP's text
        transformer, EOT token, text projection)."""
        ctx = {'cls': self.cls_ctx, 'seg': self.seg_ctx}[task]
        clip = self.clip
        emb = clip.token_embedding(self.tokens)  # (C, L, W), the frozen embeddings
        ctx = ctx.to(emb.dtype)
        if ctx.dim() == 2:  # shared by all classes
            ctx = ctx[None].expand(len(emb), -1, -1)
        x = torch.cat([emb[:, :1], ctx, emb[:, 1 + self.n_ctx:]], dim=1)
        length = x.shape[1]
        x = x + clip.positional_embedding[:length].to(x.dtype)
        mask = clip.attn_mask[:length, :length] if clip.attn_mask is not None else None
        x = clip.transformer(x, attn_mask=mask)
        x = clip.ln_final(x)
        x = x[torch.arange(len(x), device=x.device), self.tokens.argmax(-1)]
        proj = clip.text_projection
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
        return F.normalize(x, dim=-1)

    # ----------------------------------------------------------------- image
    def image_tokens(self, inputs: Tensor):
        """Pooled image feature (N, D) and patch features (N, D, h, w), both L2-normalised.

        The positional embedding is interpolated (bicubic) to the input's patch grid, so any
        input size works; patch tokens get ``ln_post`` and ``proj`` like the class token."""
        v = self.clip.visual
        x = v.conv1(inputs.to(v.conv1.weight.dtype))
        n, d, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype)[None, None].expand(n, -1, -1)
        x = torch.cat([cls, x], dim=1)
        x = x + self._pos_embed(v.positional_embedding, h, w).to(x.dtype)
        x = v.ln_pre(x)
        x = v.transformer(x)
        x = v.ln_post(x)
        if v.proj is not None:
            x = x @ v.proj
        pooled, patches = x[:, 0], x[:, 1:]
        patches = patches.transpose(1, 2).reshape(n, -1, h, w)
        return F.normalize(pooled, dim=-1), F.normalize(patches, dim=1)

    @staticmethod
    def _pos_embed(pos: Tensor, h: int, w: int) -> Tensor:
        cls_pos, grid = pos[:1], pos[1:]
        g = int(round(grid.shape[0] ** 0.5))
        if (g, g) != (h, w):
            grid = grid.reshape(1, g, g, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid.float(), size=(h, w), mode='bicubic',
                                 align_corners=False).to(pos.dtype)
            grid = grid.permute(0, 2, 3, 1).reshape(h * w, -1)
        return torch.cat([cls_pos, grid])[None]

    @property
    def logit_scale(self) -> Tensor:
        return self.clip.logit_scale.exp()

    def forward(self, inputs: Tensor) -> Dict[str, Tensor]:
        """``cls_logits`` (N, C): CLIP's ``logit_scale`` times the cosine similarity of the
        image with the classification prompts; ``seg_cams`` (N, C, h, w): cosine similarity
        (unscaled, in [-1, 1]) of every patch with the segmentation prompts; ``cls_cams`` the
        same with the classification prompts."""
        pooled, patches = self.image_tokens(inputs)
        t_cls = self.text_features('cls')
        t_seg = self.text_features('seg')
        scale = self.logit_scale
        return dict(
            cls_logits=scale * pooled @ t_cls.t(),
            seg_cams=torch.einsum('ndhw,cd->nchw', patches, t_seg),
            cls_cams=torch.einsum('ndhw,cd->nchw', patches, t_cls))
