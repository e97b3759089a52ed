"""CLIPPromptHead: a frozen open_clip model with learnable (CoOp-style) task prompts and the
Grad-CAM of the official FMA-WSSS code.

Follows "Foundation Model Assisted Weakly Supervised Semantic Segmentation" (Yang & Gong,
WACV 2024; official code HAL-42/FMA-WSSS, itself built on CLIP-ES):

* CLIP is frozen; two sets of learnable context vectors (CoOp) are spliced into the prompts, one
  for the classification task (``cls_ctx``), one for the segmentation task (``seg_ctx``); the
  prompts are the foreground class names followed by *background* names (official
  ``src/libs/coop/prompt_learners.py: CoOpLearner`` built on ``classnames = fg_names +
  bg_names``, ``configs/clip_cam/base.py``): CLIP-ES's 25 background words for the
  classification task (``configs/patterns/voc_names/clip_es.py``, CLIP-ES ``clip_text.py:
  BACKGROUND_CATEGORY``), 25 empty names with class-specific learnable context for the VOC
  segmentation task (``configs/VOC/seg/cfg.py: bg_names = [''] * 25, csc=True,
  cls_token_pos='front'``).
* Image feature: the mean of the patch tokens after ``ln_post`` and ``proj`` (official
  ``src/libs/coop/image_encoders.py: GetLN1.run_post`` ``img_emb``; CLIP-ES's
  ``clip/model.py: VisionTransformer.forward``), logits ``logit_scale * cos`` with every prompt
  (``src/libs/coop/custom_clips/cam_clips.py: GradCAMCLIP.get_logits``).
* CAMs: Grad-CAM of the softmax over [present foreground classes, all background prompts]
  (``GradCAMCLIP.forward`` with ``sm_fg_exist=True``) w.r.t. the output of ``ln_1`` of the last
  vision block (``GetLN1.run_trans`` ``gcam_avt``): channel weights are the gradients averaged
  over the patch tokens, the CAM of a patch is its activation times the weights summed over
  channels (no ReLU). During training the gradient is taken with ``create_graph=True`` so that a
  loss on the CAMs reaches the prompts (second order), as in the official training.
* The attention maps of all vision blocks (averaged over heads) are returned on request for the
  class-aware attention refinement (``mmwsss.models.seeding.sam_seeding.refine_cams``).

Only the two context tensors (``cls_ctx``, ``seg_ctx``) are trainable.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.utils.checkpoint import check_file, load_weights_file, strip_module_prefix

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
        state = load_weights_file(pretrained, 'CLIP weights', torchscript=True)
        state = strip_module_prefix(state)
        # OpenAI archives also hold these three scalars, not parameters of open_clip's CLIP
        for key in ('input_resolution', 'context_length', 'vocab_size'):
            state.pop(key, None)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ValueError(f'{pretrained} does not fit the CLIP architecture {clip}: '
                             f'{str(e)[:600]}') from e
    return model.eval()


TASKS = ('cls', 'seg')


def _per_task(value, name: str) -> dict:
    """``dict(cls=..., seg=...)`` from a per-task dict or one value for both tasks."""
    if isinstance(value, dict):
        missing = set(TASKS) - set(value)
        if missing:
            raise ValueError(f'{name}={value}: give both tasks {TASKS} or a single value')
        return {t: value[t] for t in TASKS}
    return {t: value for t in TASKS}


def masked_softmax(logits: Tensor, present: Tensor, num_fg: int,
                   softmax_over: str = 'present') -> Tensor:
    """Softmax over the prompts; with ``softmax_over='present'`` the absent foreground classes
    are left out (official ``GradCAMCLIP.forward``, ``sm_fg_exist=True``: the mask is the
    image-level label on the foreground prompts and 1 on every background prompt); ``'all'``:
    a plain softmax (``sm_fg_exist=False``)."""
    if softmax_over == 'all':
        return logits.softmax(-1)
    if softmax_over != 'present':
        raise ValueError(f"softmax_over {softmax_over!r}: use 'present' or 'all'")
    keep = torch.ones_like(logits, dtype=torch.bool)
    keep[:, :num_fg] = present > 0
    return logits.masked_fill(~keep, float('-inf')).softmax(-1)


def grad_cam(act: Tensor, logits: Tensor, present: Tensor, hw=None,
             softmax_over: str = 'present', create_graph: bool = False) -> Tensor:
    """Grad-CAM of the (masked) softmax scores of the present classes (official
    ``src/libs/coop/custom_clips/cam_clips.py: GradCAMCLIP.forward``; CLIP-ES
    ``generate_cams_voc12.py`` with ``pytorch_grad_cam`` on ``ln_1`` of the last block).

    Args:
        act: (N, 1 + h*w, D) activation (class token first) that ``logits`` were computed from;
            it must require grad.
        logits: (N, G) logits, the first C columns the foreground classes, the rest background
            prompts.
        present: (N, C) 0/1 image-level labels; CAMs are computed for present classes only.
        hw: (h, w) of the patch grid (default: square).
        softmax_over: see ``masked_softmax``.
        create_graph: keep the graph of the gradient (training: the CAM loss then reaches
            whatever ``logits`` depend on, e.g. the prompts).

    Returns:
        (N, C, h, w) CAMs, 0 for absent classes: for a present class c of image n,
        ``cam[p] = sum_d act[n, 1 + p, d] * mean_q d prob[n, c] / d act[n, 1 + q, d]``.

    The gradients of all images are taken together: ``prob[n]`` depends on ``act[n]`` only, so
    the gradient of ``sum_n prob[n, c_k(n)]`` w.r.t. ``act`` holds every image's own gradient
    (the official code batches the same gradients with ``is_grads_batched``).
    """
    n, length, d = act.shape
    c = present.shape[1]
    if hw is None:
        s = int(round((length - 1) ** 0.5))
        hw = (s, s)
    probs = masked_softmax(logits, present, c, softmax_over)
    pos = present > 0
    rank = pos.long().cumsum(1) - 1  # k-th present class of each image
    cams = act.new_zeros(n, c, length - 1)
    patches = act.detach()[:, 1:]
    for k in range(int(pos.sum(1).max().item()) if pos.any() else 0):
        img, cls = (pos & (rank == k)).nonzero(as_tuple=True)
        target = probs[img, cls].sum()
        grad = torch.autograd.grad(target, act, retain_graph=True, create_graph=create_graph)[0]
        weight = grad[img, 1:].mean(1)  # (P, D): gradients averaged over the patch tokens
        cam = (patches[img] * weight[:, None, :]).sum(-1)  # (P, hw)
        cams = cams.index_put((img, cls), cam.to(cams.dtype))
    return cams.reshape(n, c, *hw)


@MODELS.register_module()
class CLIPPromptHead(nn.Module):
    """Frozen CLIP + learnable classification / segmentation prompts, Grad-CAM CAMs.

    Args:
        clip: open_clip architecture (see ``build_open_clip``).
        class_names: foreground class names (prompt text), in label order (class 1 first).
        pretrained: CLIP weights file (``None``: random weights, tests only).
        n_ctx: context vectors per prompt (CoOp's M; official 16).
        ctx_std: init std of the context vectors (official: 0.015 for the VOC / COCO
            classification task and COCO segmentation, 0.125 for the VOC segmentation task).
            A float or ``dict(cls=..., seg=...)``; likewise the next three.
        context_length: text token length (CLIP: 77).
        csc: class-specific context (CoOp's CSC: one context per prompt, background prompts
            included).
        bg_names: background prompt names appended to the class names (``None`` / ``[]``: no
            background prompt; then a single present class has a constant softmax score and a
            zero Grad-CAM).
        cls_token_pos: ``'end'`` (``SOS ctx name . EOS``) or ``'front'`` (``SOS name ctx .
            EOS``), as ``CoOpLearner.forward``.
        pool: image feature, ``'mean'`` of the patch tokens (official) or the class token
            (``'token'``).
        softmax_over: Grad-CAM target, see ``masked_softmax`` (official ``'present'``).
    """

    def __init__(self, clip: dict, class_names: Sequence[str], pretrained: Optional[str] = None,
                 n_ctx: int = 16, ctx_std=0.0125, context_length: int = 77, csc=False,
                 bg_names=None, cls_token_pos='end', pool: str = 'mean',
                 softmax_over: str = 'present') -> None:
        super().__init__()
        import open_clip
        from open_clip.tokenizer import SimpleTokenizer
        self.clip = build_open_clip(clip, pretrained)
        for p in self.clip.parameters():
            p.requires_grad_(False)
        if pool not in ('mean', 'token'):
            raise ValueError(f"pool {pool!r}: use 'mean' or 'token'")
        self.pool = pool
        self.softmax_over = softmax_over
        self.class_names = [str(c).replace('_', ' ') for c in class_names]
        self.num_classes = len(self.class_names)
        self.n_ctx = int(n_ctx)
        context_length = min(int(context_length), self.clip.positional_embedding.shape[0])
        width = self.clip.token_embedding.weight.shape[1]
        self.csc = {t: bool(v) for t, v in _per_task(csc, 'csc').items()}
        self.cls_token_pos = _per_task(cls_token_pos, 'cls_token_pos')
        ctx_std = _per_task(ctx_std, 'ctx_std')
        bg = bg_names if isinstance(bg_names, dict) else dict(cls=bg_names, seg=bg_names)
        self.bg_names = {t: [str(b) for b in (bg.get(t) or [])] for t in TASKS}
        tokenizer = SimpleTokenizer()
        self.name_lens = {}
        for task in TASKS:
            if self.cls_token_pos[task] not in ('end', 'front'):
                raise ValueError(f"cls_token_pos {self.cls_token_pos[task]!r}: 'end' or 'front'")
            names = self.class_names + self.bg_names[task]
            prompts = [' '.join(['X'] * self.n_ctx) + ' ' + name + '.' for name in names]
            tokens = open_clip.tokenize(prompts, context_length=context_length)
            self.register_buffer(f'tokens_{task}', tokens, persistent=False)
            self.name_lens[task] = [len(tokenizer.encode(name)) for name in names]
            room = context_length - self.n_ctx - 3  # SOS, context, name, '.', EOS
            too_long = [(n, k) for n, k in zip(names, self.name_lens[task]) if k > room]
            if too_long:  # open_clip.tokenize would cut the name (and the EOS) silently
                raise ValueError(
                    f'{task} prompt names longer than the text encoder takes ({room} tokens '
                    f'= context_length {context_length} - n_ctx {self.n_ctx} - 3): ' +
                    ', '.join(f'{n!r} ({k} tokens)' for n, k in too_long))
            shape = ((len(names), self.n_ctx, width) if self.csc[task] else (self.n_ctx, width))
            setattr(self, f'{task}_ctx', nn.Parameter(torch.randn(shape) * ctx_std[task]))

    def num_prompts(self, task: str) -> int:
        return self.num_classes + len(self.bg_names[task])

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip.eval()  # frozen: dropout / norms always in eval mode
        return self

    # ------------------------------------------------------------------ text
    def prompt_embeddings(self, task: str) -> Tensor:
        """(G, L, W) token embeddings with the context spliced in (``CoOpLearner.forward``)."""
        tokens = getattr(self, f'tokens_{task}')
        ctx = getattr(self, f'{task}_ctx')
        emb = self.clip.token_embedding(tokens)  # (G, L, W), frozen
        ctx = ctx.to(emb.dtype)
        if ctx.dim() == 2:  # shared by all prompts
            ctx = ctx[None].expand(len(emb), -1, -1)
        sos, rest = emb[:, :1], emb[:, 1 + self.n_ctx:]  # rest: name . EOS pad
        if self.cls_token_pos[task] == 'end':
            return torch.cat([sos, ctx, rest], dim=1)
        return torch.cat([torch.cat([sos[i], rest[i, :k], ctx[i], rest[i, k:]])[None]
                          for i, k in enumerate(self.name_lens[task])])

    def text_features(self, task: str) -> Tensor:
        """(G, D) L2-normalised text features of the ``'cls'`` or ``'seg'`` prompts, foreground
        classes first, then the background prompts (CoOp / official ``text_encoders.py:
        EncEmb``: CLIP's text transformer, EOT token, text projection)."""
        clip = self.clip
        tokens = getattr(self, f'tokens_{task}')
        x = self.prompt_embeddings(task)
        length = x.shape[1]
        x = x + clip.positional_embedding[:length].to(x.dtype)
        mask = clip.attn_mask[:length, :length] if clip.attn_mask is not None else None
        x = clip.transformer(x, attn_mask=mask)
        x = clip.ln_final(x)
        x = x[torch.arange(len(x), device=x.device), tokens.argmax(-1)]
        proj = clip.text_projection
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj
        return F.normalize(x, dim=-1)

    # ----------------------------------------------------------------- image
    @staticmethod
    def _attend(block, x: Tensor, need_attn: bool):
        attn = block.attn
        if not isinstance(attn, nn.MultiheadAttention):
            raise NotImplementedError('CLIPPromptHead needs open_clip ResidualAttentionBlocks '
                                      '(nn.MultiheadAttention)')
        q = x if attn.batch_first else x.transpose(0, 1)
        out, weights = attn(q, q, q, need_weights=need_attn, average_attn_weights=True)
        return (out if attn.batch_first else out.transpose(0, 1)), weights

    def encode_image(self, inputs: Tensor, need_attn: bool = False) -> Dict:
        """Frozen image encoder split as the official ``GetLN1``.

        Returns ``act`` (N, 1 + h*w, D): the output of ``ln_1`` of the last block, a leaf that
        requires grad (the Grad-CAM layer); ``feat`` (N, E): the L2-normalised image feature
        (mean of the projected patch tokens, or the class token); ``hw``; ``attn``: a list of
        the (N, L, L) head-averaged attention maps of every block (if ``need_attn``).
        The positional embedding is interpolated (bicubic) to the input's patch grid."""
        v = self.clip.visual
        blocks = list(v.transformer.resblocks)
        attn: List[Tensor] = []
        with torch.no_grad():
            x = v.conv1(inputs.to(v.conv1.weight.dtype))
            n, d, h, w = x.shape
            x = x.flatten(2).transpose(1, 2)
            cls = v.class_embedding.to(x.dtype)[None, None].expand(n, -1, -1)
            x = torch.cat([cls, x], dim=1)
            x = x + self._pos_embed(v.positional_embedding, h, w).to(x.dtype)
            x = v.ln_pre(x)
            for blk in blocks[:-1]:
                y, a = self._attend(blk, blk.ln_1(x), need_attn)
                x = x + blk.ls_1(y)
                x = x + blk.ls_2(blk.mlp(blk.ln_2(x)))
                if need_attn:
                    attn.append(a)
            last = blocks[-1]
            act = last.ln_1(x)
        act = act.detach().requires_grad_(True)
        with torch.enable_grad():
            # explicit attention weights (the math path, as the official GetLN1.run_trans): the
            # fused SDPA kernels have no double backward, which the CAM loss needs
            y, a = self._attend(last, act, True)
            x = x + last.ls_1(y)
            x = x + last.ls_2(last.mlp(last.ln_2(x)))
            x = v.ln_post(x)
            feat = x[:, 1:].mean(1) if self.pool == 'mean' else x[:, 0]
            if v.proj is not None:
                feat = feat @ v.proj
            feat = F.normalize(feat, dim=-1)
        if need_attn:
            attn.append(a.detach())
        return dict(act=act, feat=feat, hw=(h, w), attn=attn)

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

    def forward(self, inputs: Tensor, present: Optional[Tensor] = None,
                cam_tasks: Sequence[str] = ('seg',), train_cams: Optional[Sequence[str]] = None,
                need_attn: bool = False) -> Dict[str, Tensor]:
        """Returns ``{task}_logits`` (N, C): ``logit_scale * cos`` of the image feature with the
        foreground prompts of both tasks (``{task}_all_logits`` (N, G) with the background
        prompts); ``{task}_cams`` (N, C, h, w) for every task of ``cam_tasks``: the Grad-CAMs
        (``grad_cam``) of the present classes (``present`` (N, C); ``None``: every class);
        ``attn`` if ``need_attn``.

        ``train_cams``: tasks whose CAMs keep the Grad-CAM graph (``create_graph``) so that a
        loss on them trains the prompts (default: ``cam_tasks`` in training, none otherwise).
        Outside training everything returned is detached."""
        if train_cams is None:
            train_cams = tuple(cam_tasks) if self.training else ()
        img = self.encode_image(inputs, need_attn)
        if present is None:
            present = torch.ones(len(inputs), self.num_classes, device=inputs.device)
        out = dict(attn=img['attn'], hw=img['hw']) if need_attn else dict(hw=img['hw'])
        with torch.enable_grad():
            for task in TASKS:
                logits = self.logit_scale * img['feat'] @ self.text_features(task).t()
                if task in cam_tasks:
                    keep = task in train_cams
                    cams = grad_cam(img['act'], logits, present, img['hw'], self.softmax_over,
                                    create_graph=keep)
                    out[f'{task}_cams'] = cams if keep else cams.detach()
                if not self.training:
                    logits = logits.detach()
                out[f'{task}_all_logits'] = logits
                out[f'{task}_logits'] = logits[:, :self.num_classes]
        return out
