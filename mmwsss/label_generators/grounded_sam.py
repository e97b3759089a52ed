"""Pseudo-labels from Grounding DINO boxes and SAM masks (Grounded-SAM; no training).

For each image: the names (and synonyms) of the classes of its image-level label form a text
prompt; Grounding DINO (mmdet's ``GroundingDINO``) finds boxes for the prompt's phrases; each
box prompts SAM for one mask; the masks are merged into a semantic label map. This is the
pipeline of "An Alternative to WSSS? An Empirical Study of SAM on WSSS" (Sun et al., 2023),
batched: Grounding DINO runs on all images of a batch together, SAM encodes the batch once and
decodes the masks of all its boxes together.

Where the reference script (weixuansun/wsss_sam, process_pascal.py) is silent or weak, this
module decides as follows (see docs/methods/grounded_sam.md):

* A box is kept if its highest token probability over the prompt's phrase tokens beats
  ``box_threshold``; its phrase is the set of phrases with a token above ``text_threshold``
  (as the reference's ``get_phrases_from_posmap``), and its class is the class of the highest
  scoring phrase of that set. Its score is that probability. With the defaults (0.3 > 0.25)
  every kept box has a phrase, as in the reference.
* Overlapping masks: the higher detection score wins, then the smaller mask area, then the
  earlier detection (the reference paints in detection order, so the last box wins).
* No box passes the thresholds: ``fallback`` = ``'ignore'`` (all 255), ``'background'`` (all 0,
  the reference's behaviour) or ``'cam'`` (labels of another ``LABEL_GENERATORS`` config,
  normally a ``CAMLabelGenerator``). An image whose label has no class is all background.
* Only classes of the image-level label are prompted, so no other class can be labelled.
"""
import copy
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmwsss.datasets.samplers import BATCH_GROUPINGS
from mmwsss.models.sam import BatchedSamPredictor, build_sam, check_sam_checkpoint
from mmwsss.models.utils import mask_priority_order, paint_masks
from mmwsss.registry import DATASETS, LABEL_GENERATORS
from mmwsss.utils.precision import check_precision, precision_autocast
from mmwsss.utils.streams import SideStream
from .base import BaseLabelGenerator
from .grounding_dino import (build_grounding_dino, check_detector_checkpoint,
                             check_text_encoder, select_detections, sub_sentence_masks)
from .prompts import build_caption, build_class_phrases

FALLBACKS = ('ignore', 'background', 'cam')


def merge_instance_masks(masks: Tensor, labels: Tensor, scores: Tensor,
                         background: int = 0) -> Tensor:
    """Semantic label map (H×W, long) from instance masks.

    A pixel covered by several masks gets the label of the mask with the higher score; equal
    scores: the smaller mask (its area in pixels); then the earlier mask. Pixels outside all
    masks get ``background``.

    Args:
        masks: (n, H, W) bool. labels: (n,) class indices. scores: (n,) detection scores.
    """
    areas = masks.flatten(1).sum(1)
    return paint_masks(masks, labels, mask_priority_order(scores, areas), fill=background)


def resolve_classes(classes: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """Class names (background first) from a list or a registered dataset type's METAINFO."""
    if classes is None:
        raise ValueError('label_generator.classes is not set: give the class names (background '
                         "first) or a dataset type, e.g. classes='VOCImageLevelDataset'")
    if isinstance(classes, str):
        cls = DATASETS.get(classes)
        if cls is None or 'classes' not in getattr(cls, 'METAINFO', {}):
            raise KeyError(f'classes={classes!r}: not a registered dataset type with '
                           'METAINFO classes; give the class names (background first)')
        classes = cls.METAINFO['classes']
    classes = tuple(classes)
    if len(classes) < 2:
        raise ValueError(f'classes {classes}: need background plus at least one class')
    return classes


@LABEL_GENERATORS.register_module()
class GroundedSAMLabelGenerator(BaseLabelGenerator):
    """Class names → Grounding DINO boxes → SAM masks → semantic label map.

    Args:
        classes: the dataset's class names (background first), or a registered dataset type
            (e.g. ``'VOCImageLevelDataset'``) whose ``METAINFO`` gives them.
        detector: mmdet ``GroundingDINO`` model config (Swin-T in the mmwsss configs).
        detector_checkpoint: its mmdet checkpoint (a local file).
        sam_checkpoint: SAM checkpoint (e.g. ``sam_vit_h_4b8939.pth``).
        text_encoder: local BERT folder; replaces ``detector.language_model.name``.
        sam_type: ``'vit_h' | 'vit_l' | 'vit_b' | 'tiny'`` or a SAM spec dict
            (``mmwsss.models.sam``).
        prompts: ``{class name: [phrases]}`` replacing the phrases of those classes.
        default_prompts: other classes get the reference script's phrases (readable name plus
            synonyms: horse + halter, saddle; diningtable + bowl, plate, food, fruit, glass,
            dishes; tvmonitor + tv, monitor); if False only the readable name.
        box_threshold / text_threshold: see ``select_detections``.
        detector_scale: Grounding DINO input size (mmdet's ``FixScaleResize`` scale).
        max_detections: boxes per image at most (best scores).
        nms_iou_threshold: per-class NMS of the boxes at this IoU (None: off, as the reference).
        fallback: ``'ignore' | 'background' | 'cam'`` for images where no box passes.
        fallback_generator: ``LABEL_GENERATORS`` config used by ``fallback='cam'`` (e.g.
            ``dict(type='CAMLabelGenerator', model=..., checkpoint=...)``; instead of
            ``model`` a ``config`` path whose ``model`` is used).
        sam_precision: ``'auto'`` (bf16 autocast on CUDA, fp32 elsewhere), ``'bf16'``, ``'fp32'``.
        detector_precision: the same switch for Grounding DINO (box coordinates and scores
            are computed from its bf16 outputs in fp32).
        sam_sdpa: SAM's image-encoder attention through the fused SDPA kernel (same math).
        sam_encoder_batch_size / sam_decoder_batch_size: chunk sizes of the SAM passes.
        overlap_sam_encoder: encode the batch's images with SAM on a second CUDA stream
            while Grounding DINO detects (the encoder does not need the boxes). Every image
            with a class to look for is then encoded, also one that gets no box. ``'auto'``:
            on CUDA devices. Labels are the same either way. Off by default until a GPU run
            has measured it (``benchmarks/label_throughput.py`` times both).
        batch_grouping: how ``generate_pseudo_labels`` batches images. ``'orientation'``
            (default): landscape and portrait apart, sorted by size, so batches stay full on
            datasets of many image sizes; Grounding DINO pads a batch to its largest image
            (mmdet's batched inference), which can move a box near the padded border
            slightly. ``'size'``: one size per batch, so every label is what the image alone
            gives, in smaller batches. SAM is unaffected (it pads every image to its square).
    """

    def __init__(self,
                 classes: Union[str, Sequence[str]],
                 detector: dict,
                 detector_checkpoint: str,
                 sam_checkpoint: str,
                 text_encoder: Optional[str] = None,
                 sam_type: Union[str, dict] = 'vit_h',
                 device: Optional[str] = None,
                 **options) -> None:
        super().__init__(device)
        self._configure(classes, **options)
        # fail on any missing file before building anything
        check_detector_checkpoint(detector_checkpoint)
        lang = text_encoder or (detector.get('language_model') or {}).get('name')
        check_text_encoder(lang)
        check_sam_checkpoint(sam_type, sam_checkpoint)
        sam = build_sam(sam_type, sam_checkpoint, self.device)
        det = build_grounding_dino(detector, detector_checkpoint, text_encoder, self.device)
        self._attach(det, sam)

    @classmethod
    def from_models(cls, detector: nn.Module, sam: nn.Module, classes, device=None,
                    **options) -> 'GroundedSAMLabelGenerator':
        """A generator around already built models (benchmarks, notebooks)."""
        self = cls.__new__(cls)
        BaseLabelGenerator.__init__(self, device)
        self._configure(classes, **options)
        self._attach(detector.to(self.device).eval(), sam.to(self.device).eval())
        return self

    def _configure(self, classes, prompts: Optional[dict] = None, default_prompts: bool = True,
                   box_threshold: float = 0.3, text_threshold: float = 0.25,
                   detector_scale: Tuple[int, int] = (800, 1333),
                   max_detections: Optional[int] = 100,
                   nms_iou_threshold: Optional[float] = None, fallback: str = 'ignore',
                   fallback_generator: Optional[dict] = None, sam_precision: str = 'auto',
                   detector_precision: str = 'auto', sam_sdpa: bool = True,
                   sam_encoder_batch_size: int = 8, sam_decoder_batch_size: int = 64,
                   overlap_sam_encoder: Union[bool, str] = False,
                   batch_grouping: str = 'orientation') -> None:
        self.classes = resolve_classes(classes)
        if batch_grouping not in BATCH_GROUPINGS:
            raise ValueError(f'batch_grouping {batch_grouping!r}: use one of {BATCH_GROUPINGS}')
        self.batch_grouping = batch_grouping
        self.class_phrases = build_class_phrases(self.classes, prompts, default_prompts)
        if fallback not in FALLBACKS:
            raise ValueError(f'fallback {fallback!r}: use one of {FALLBACKS}')
        if fallback == 'cam' and not fallback_generator:
            raise ValueError("fallback='cam' needs fallback_generator, e.g. dict(type="
                             "'CAMLabelGenerator', config='configs/cam/....py', checkpoint=...)")
        self.box_threshold, self.text_threshold = float(box_threshold), float(text_threshold)
        for name, value in (('box_threshold', self.box_threshold),
                            ('text_threshold', self.text_threshold)):
            if not 0 <= value <= 1:
                raise ValueError(f'{name} {value}: token probabilities lie in 0..1')
        self.detector_scale = tuple(detector_scale)
        self.max_detections = max_detections
        self.nms_iou_threshold = nms_iou_threshold
        self.fallback = fallback
        self._fallback_cfg = fallback_generator if fallback == 'cam' else None
        self.detector_precision = check_precision(detector_precision, 'detector_precision')
        if overlap_sam_encoder not in (True, False, 'auto'):
            raise ValueError(f"overlap_sam_encoder {overlap_sam_encoder!r}: use True, False or "
                             "'auto'")
        self.overlap_sam_encoder = (self.device.type == 'cuda' if overlap_sam_encoder == 'auto'
                                    else bool(overlap_sam_encoder))
        self._sam_options = dict(precision=sam_precision, encoder_batch_size=sam_encoder_batch_size,
                                 decoder_batch_size=sam_decoder_batch_size, sdpa=sam_sdpa)
        self.last_captions: List[str] = []  # per image (its prompts joined)
        self.last_prompts: List[List[str]] = []  # per image, the prompts it was detected with
        self.fallback_count = 0  # images labelled by the fallback (no box passed), so far
        self.last_detections: List[dict] = []

    def _attach(self, detector: nn.Module, sam: nn.Module) -> None:
        self.detector = detector
        self.sam = BatchedSamPredictor(sam, **self._sam_options)
        self._encoder_stream = SideStream(self.device)
        self.fallback_generator = None
        if self._fallback_cfg is not None:
            cfg = copy.deepcopy(dict(self._fallback_cfg))
            if 'config' in cfg:
                from mmengine.config import Config
                cfg.setdefault('model', Config.fromfile(cfg.pop('config')).model)
            cfg.setdefault('device', str(self.device))
            self.fallback_generator = LABEL_GENERATORS.build(cfg)
        for c in self.class_phrases:  # every class must fit a prompt on its own
            n = self._prompt_length(build_caption([c], self.class_phrases)[0])
            if n > self.max_prompt_tokens:
                raise ValueError(
                    f'the phrases of class {self.classes[c]!r} make a prompt of {n} tokens, '
                    f'longer than the text encoder takes ({self.max_prompt_tokens}); give it '
                    'fewer or shorter phrases (label_generator.prompts)')

    # ---------------------------------------------------------------- prompts and detection
    @property
    def max_prompt_tokens(self) -> int:
        """Tokens a prompt may have: the text encoder's ``max_tokens``, at most the head's
        ``max_text_len``."""
        head_len = self.detector.bbox_head.cls_branches[-1].max_text_len
        return min(self.detector.language_model.max_tokens, head_len)

    def _prompt_length(self, caption: str) -> int:
        return len(self.detector.language_model.tokenizer(caption).input_ids)

    def prompt_chunks(self, present: Sequence[int]
                      ) -> List[Tuple[str, List[Tuple[int, int]], List[int]]]:
        """The prompts Grounding DINO gets for an image with classes ``present``: one caption
        (``build_caption``) if it fits the text encoder, else the classes in order, split into
        as few captions as fit, each class whole in one (mmdet's ``chunked_size`` prompts do
        the same for large vocabularies). Each caption is detected on the image and the boxes
        of all are pooled, so a long prompt costs an extra detector pass instead of an error.
        """
        caption = build_caption(present, self.class_phrases)
        if not caption[0] or self._prompt_length(caption[0]) <= self.max_prompt_tokens:
            return [caption]
        groups: List[List[int]] = [[]]
        for c in sorted(set(int(c) for c in present)):
            trial = build_caption(groups[-1] + [c], self.class_phrases)[0]
            if groups[-1] and self._prompt_length(trial) > self.max_prompt_tokens:
                groups.append([])
            groups[-1].append(c)
        return [build_caption(g, self.class_phrases) for g in groups]

    def _phrase_tokens(self, caption: str, spans) -> List[Tensor]:
        from mmdet.models.detectors.glip import create_positive_map
        tokenized = self.detector.language_model.tokenizer([caption], return_tensors='pt')
        max_len = self.detector.bbox_head.cls_branches[-1].max_text_len
        pos = create_positive_map(tokenized, [[s] for s in spans], max_num_entities=max_len)
        return [torch.from_numpy(np.flatnonzero(row.numpy())) for row in pos]  # host only

    def encode_text(self, captions: Sequence[str]) -> dict:
        """What the detector's ``language_model(captions)`` returns (mmdet's
        ``BertModel.forward``), with the sub-sentence masks made on the host
        (``sub_sentence_masks``) instead of by per-token reads of device memory."""
        from mmdet.models.language_models import BertModel
        lm = self.detector.language_model
        if type(lm) is not BertModel or not lm.use_sub_sentence_represent:
            return lm(list(captions))
        tokens = lm.tokenizer.batch_encode_plus(
            list(captions), max_length=lm.max_tokens, return_special_tokens_mask=True,
            padding='max_length' if lm.pad_to_max else 'longest', return_tensors='pt',
            truncation=True)
        attention, positions = sub_sentence_masks(tokens.input_ids.numpy(), lm.special_tokens)
        device = next(lm.language_backbone.parameters()).device
        inputs = {k: v.to(device, non_blocking=True) for k, v in dict(
            input_ids=tokens.input_ids, attention_mask=torch.from_numpy(attention),
            position_ids=torch.from_numpy(positions),
            token_type_ids=tokens.token_type_ids).items()}
        features = lm.language_backbone(inputs)
        features['position_ids'] = inputs['position_ids']
        features['text_token_mask'] = tokens.attention_mask.bool().to(device, non_blocking=True)
        return features

    def _detector_inputs(self, images: Sequence[Tensor]):
        from mmcv.image import rescale_size
        from mmdet.structures import DetDataSample
        inputs, samples = [], []
        for img in images:
            h, w = img.shape[-2:]
            nw, nh = rescale_size((w, h), self.detector_scale)
            x = img.float()
            if (nh, nw) != (h, w):
                x = F.interpolate(x[None], (nh, nw), mode='bilinear', align_corners=False,
                                  antialias=True)[0]
            inputs.append(x)
            samples.append(DetDataSample(metainfo=dict(
                img_shape=(nh, nw), ori_shape=(h, w), scale_factor=(nw / w, nh / h))))
        return self.detector.data_preprocessor(dict(inputs=inputs, data_samples=samples), False)

    @torch.no_grad()
    def detect(self, images: Sequence[Tensor], captions: Sequence[str],
               phrase_tokens: Sequence[Sequence[Tensor]]) -> List[Tuple[Tensor, Tensor, Tensor]]:
        """Grounding DINO on a batch (BGR C×H×W images as the data loader gives them).

        Returns, per image, xyxy pixel boxes (n×4), scores (n) and phrase indices (n).
        """
        det = self.detector
        data = self._detector_inputs(images)
        with precision_autocast(self.detector_precision, self.device):
            feats = det.extract_feat(data['inputs'])
            text_dict = self.encode_text(captions)
            if det.text_feat_map is not None:
                text_dict['embedded'] = det.text_feat_map(text_dict['embedded'])
            head_inputs = det.forward_transformer(feats, text_dict, data['data_samples'])
            cls_scores, bbox_preds = det.bbox_head(**head_inputs)
        probs = cls_scores[-1].float().sigmoid()  # (B, Q, max_text_len); padding tokens: 0
        bbox_preds = [p.float() for p in bbox_preds]
        out = []
        for b, img in enumerate(images):
            boxes, scores, phrases = select_detections(
                probs[b], bbox_preds[-1][b], phrase_tokens[b], self.box_threshold,
                self.text_threshold, None if self.nms_iou_threshold else self.max_detections)
            h, w = img.shape[-2:]
            boxes = boxes * boxes.new_tensor([w, h, w, h])
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
            if self.nms_iou_threshold and len(boxes):
                from torchvision.ops import batched_nms
                keep = batched_nms(boxes, scores, phrases, self.nms_iou_threshold)
                keep = keep[:self.max_detections] if self.max_detections else keep
                boxes, scores, phrases = boxes[keep], scores[keep], phrases[keep]
            out.append((boxes, scores, phrases))
        return out

    # ---------------------------------------------------------------- labels
    @torch.no_grad()
    def generate(self, data_batch: dict) -> List[np.ndarray]:
        samples = data_batch['data_samples']
        images = [img.to(self.device, non_blocking=True) for img in data_batch['inputs']]
        chunks = [self.prompt_chunks(self.present_classes(ds)) for ds in samples]
        self.last_prompts = [[c[0] for c in cs if c[0]] for cs in chunks]
        self.last_captions = [' '.join(p) for p in self.last_prompts]
        self.last_cams = [None] * len(samples)
        todo = [i for i, p in enumerate(self.last_prompts) if p]  # images with a class to find
        rows = [(i, c) for i in todo for c in chunks[i]]  # a detector row per prompt
        dets, feats = {}, None
        if todo:
            if self.overlap_sam_encoder:  # SAM encodes while Grounding DINO detects
                with self._encoder_stream:
                    feats = self.sam.encode([images[i] for i in todo], bgr=True)
            found = self.detect([images[i] for i, _ in rows], [c[0] for _, c in rows],
                                [self._phrase_tokens(c[0], c[1]) for _, c in rows])
            for (i, (_, _, phrase_classes)), (boxes, scores, phrases) in zip(rows, found):
                classes = torch.as_tensor(phrase_classes, dtype=torch.long,
                                          device=phrases.device)[phrases]
                dets.setdefault(i, []).append((boxes, scores, classes))
            dets = {i: self._pool_detections(d) for i, d in dets.items()}
            if feats is not None:
                self._encoder_stream.join(feats.embeddings)
        boxed = [i for i in dets if len(dets[i][0])]
        if feats is not None and boxed:
            masks = self.sam.predict_boxes([images[i] for i in todo],
                                           [dets[i][0] for i in todo], bgr=True, features=feats)
            masks = {i: m for i, m in zip(todo, masks) if i in boxed}
        else:
            masks = self.sam.predict_boxes([images[i] for i in boxed],
                                           [dets[i][0] for i in boxed], bgr=True) if boxed else []
            masks = dict(zip(boxed, masks))
        labels: List[Optional[np.ndarray]] = [None] * len(samples)
        for i, img in enumerate(images):
            h, w = img.shape[-2:]
            if i in masks:
                _, scores, classes = dets[i]
                labels[i] = merge_instance_masks(masks[i], classes, scores).to(
                    torch.uint8).cpu().numpy()
            elif i not in dets:  # nothing in the image-level label: nothing to find
                labels[i] = np.zeros((h, w), np.uint8)
        self.last_detections = [
            dict(boxes=d[0].cpu(), scores=d[1].cpu(), classes=d[2].cpu()) if d is not None
            else None for d in (dets.get(i) for i in range(len(samples)))]
        missing = [i for i, lab in enumerate(labels) if lab is None]
        if missing:
            for i, lab in zip(missing, self._fallback(data_batch, missing)):
                labels[i] = lab
            self.fallback_count += len(missing)
        return [self._finish(lab, ds) for lab, ds in zip(labels, samples)]

    def _pool_detections(self, parts: List[Tuple[Tensor, Tensor, Tensor]]
                         ) -> Tuple[Tensor, Tensor, Tensor]:
        """The detections of an image's prompts together, best ``max_detections`` kept."""
        if len(parts) == 1:
            return parts[0]
        boxes, scores, classes = (torch.cat(t) for t in zip(*parts))
        if self.max_detections and len(scores) > self.max_detections:
            keep = scores.topk(self.max_detections).indices
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        return boxes, scores, classes

    def report(self) -> dict:
        """For the label run's report: how many images fell back (no box passed)."""
        return dict(fallback=self.fallback_count)

    def close(self, cancel: bool = False) -> None:
        if self.fallback_generator is not None:
            self.fallback_generator.close(cancel)

    def _fallback(self, data_batch: dict, idx: List[int]) -> List[np.ndarray]:
        shapes = [tuple(data_batch['inputs'][i].shape[-2:]) for i in idx]
        if self.fallback == 'ignore':
            return [np.full(s, 255, np.uint8) for s in shapes]
        if self.fallback == 'background':
            return [np.zeros(s, np.uint8) for s in shapes]
        labels = {}
        for size in dict.fromkeys(shapes):  # the fallback's batches: one size each
            part = [i for i, s in zip(idx, shapes) if s == size]
            sub = dict(inputs=[data_batch['inputs'][i] for i in part],
                       data_samples=[data_batch['data_samples'][i] for i in part])
            labels.update(zip(part, self.fallback_generator.generate(sub)))
        return [np.asarray(labels[i], np.uint8) for i in idx]

    def _finish(self, label: np.ndarray, ds) -> np.ndarray:
        """At the original size; a class absent from the image-level label becomes ignore."""
        ori = tuple(ds.metainfo.get('ori_shape', label.shape)[:2])
        if label.shape != ori:
            import cv2
            label = cv2.resize(label, ori[::-1], interpolation=cv2.INTER_NEAREST)
        allowed = np.array(sorted(set(self.present_classes(ds)) | {0, 255}))
        label = label.astype(np.uint8)
        label[~np.isin(label, allowed)] = 255
        return label
