"""``BatchedSamPredictor``: a batched replacement for ``segment_anything.SamPredictor``. It encodes
a whole batch of images in one (chunked) pass of the image encoder and decodes the masks of all
prompts of the batch together, each prompt attending to the embedding of its own image;
``SamPredictor`` encodes one image at a time and decodes the prompts of that image only."""
import contextlib
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.utils.precision import check_precision, precision_autocast, uses_bf16
from .build import sam_input_size, sdpa_image_encoder


class SamImageBatch:
    """Image embeddings of a batch and the sizes that map prompts and masks to each image."""

    def __init__(self, embeddings: Tensor, input_sizes: List[Tuple[int, int]],
                 original_sizes: List[Tuple[int, int]]) -> None:
        self.embeddings = embeddings
        self.input_sizes = input_sizes
        self.original_sizes = original_sizes

    def __len__(self) -> int:
        return len(self.input_sizes)


class BatchedSamPredictor:
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
