"""CAMClassifier: an image classifier whose class activation maps are the product."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.structures import SegDataSample

from mmwsss.registry import MODELS
from mmwsss.utils.precision import check_precision, precision_autocast
from ..builder import build_module
from ..utils import image_label_classes, max_norm, min_max_norm, pack_cam_predictions

# test_cfg.norm: how a summed multi-scale CAM becomes [0, 1]
CAM_NORMS = dict(max=max_norm, min_max=min_max_norm)


@MODELS.register_module()
class CAMClassifier(BaseModel):
    """backbone → [neck] → CAM head [→ CAM neck], trained from image-level labels.

    ``neck`` is an ordinary feature neck (mmseg's kind); ``cam_neck`` refines CAMs with the
    features and the image, e.g. SEAM's ``PCMNeck``: with one, inference returns the refined
    CAMs. Training here is the plain CAM objective (the head's losses); siamese methods such
    as SEAM subclass this and add their own (``EquivariantCAMClassifier``).

    ``loss`` returns the head's losses; ``predict`` returns, per image, ``pred_cam``
    (C×H×W, each class normalised to [0, 1] by ``test_cfg.norm``, at the original image size)
    and ``pred_sem_seg`` (CAMs thresholded with ``test_cfg.bg_threshold``).

    ``test_cfg`` keys:
        scales (tuple of float): input rescales averaged at inference (default ``(1.0,)``).
        flip (bool): also average horizontally flipped inputs (default False).
        bg_threshold (float): background score for ``pred_sem_seg`` (default 0.25).
        use_img_labels (bool): keep only the classes of the image-level label, as WSSS
            evaluation and pseudo-labelling do (default True); otherwise classes whose logit
            is positive.
        precision (str): ``'fp32'`` (default), ``'bf16'`` (autocast) or ``'auto'`` (bf16 on
            CUDA) for the inference forward passes; CAMs are summed and normalised in fp32.
        norm (str): how the summed CAM of each class becomes [0, 1]: ``'max'`` (default;
            PSA/IRN's ``infer_cam``: divided by its max) or ``'min_max'`` (SEAM and HFPL's
            ``infer_SEAM.py``/``infer_cam_voc.py``: ``(x - min - 1e-5) / (max - min +
            1e-5)``, ``min_max_norm``; PCM-refined maps do not reach 0, so the two differ).
        scale_mode (str): how the input is resized to each scale: ``'bilinear'`` (default;
            to ``floor(H·s)``) or ``'pil_bicubic'``, the official codes' PIL bicubic resize
            of the 8-bit image to ``round(H·s)`` (SEAM's ``VOC12ClsDatasetMSF``): torch's
            antialiased bicubic, which is PIL's filter, on the image un-normalised, then
            clipped and rounded to 8 bits (PIL's pixels but for rounding: 1 grey level,
            rarely 2).
        upsample_via_scaled_input (bool): upsample each scale's CAM first to that scale's
            input (``align_corners=True``, as SEAM's ``Net.forward`` returns it), then to the
            image (``align_corners=False``, ``infer_SEAM.py``), instead of straight to the
            image (default False). Near the border the two grids differ by up to 3.5 px at
            scale 1 and 7 px at scale 0.5 (output stride 8).

    Batches of images of different sizes (padded by the data preprocessor) give nearly the
    same CAMs as one image at a time: each image's CAM is cropped to its own size before it is
    normalised, but border convolutions see the padding, and at scales other than 1 the
    padded batch is resampled as a whole, which blends padding into the image's last row and
    column and moves the sampling grid slightly. With the VOC multi-scale settings this
    changes under 1% of the label pixels, near the image border
    (``benchmarks/cam_inference.py`` prints the agreement). A batch without padding is exact:
    one image, or images of one size (``generate_pseudo_labels`` and, through
    ``SameSizeBatchSampler``, ``tools/test.py --split train`` batch images by size), with no
    ``size`` / ``size_divisor`` in the preprocessor's ``test_cfg``.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 cam_neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        self.neck = build_module(neck)
        self.head = build_module(head)
        self.cam_neck = build_module(cam_neck)
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(scales=(1.0, ), flip=False, bg_threshold=0.25, use_img_labels=True,
                             precision='fp32', norm='max', scale_mode='bilinear',
                             upsample_via_scaled_input=False)
        self.test_cfg.update(test_cfg or {})
        check_precision(self.test_cfg['precision'], 'test_cfg.precision')
        for key, allowed in (('norm', sorted(CAM_NORMS)),
                             ('scale_mode', ['bilinear', 'pil_bicubic'])):
            if self.test_cfg[key] not in allowed:
                raise ValueError(f'test_cfg.{key}={self.test_cfg[key]!r}: use one of {allowed}')

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def extract_feat(self, inputs: torch.Tensor):
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def _forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Raw CAMs at feature resolution."""
        return self.head(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor, data_samples: List[SegDataSample]) -> Dict:
        return self.head.loss(self.extract_feat(inputs), data_samples, inputs)

    def single_scale_cams(self, inputs: torch.Tensor) -> torch.Tensor:
        """Foreground CAMs of one forward pass at feature resolution, refined by ``cam_neck``
        when there is one (``inference_cams`` runs it per scale and flip)."""
        feats = self.extract_feat(inputs)
        cams = self.head(feats)
        if self.cam_neck is not None:
            cams = self.cam_neck.refine(cams, feats, inputs)[:, 1:]
        return cams

    # ---------------------------------------------------------------- inference
    def inference_cams(self, inputs: torch.Tensor, normalise: bool = True) -> torch.Tensor:
        """Multi-scale (+flip) CAMs at input size, summed then normalised per class.

        Each scale's ReLU'd CAM is upsampled to the input size and summed with its flipped
        counterpart, as in PSA/IRN's ``infer_cam``; the sum is normalised by
        ``test_cfg.norm`` (``normalise=False`` returns the sum). The whole batch and its flip
        go through the network together, one pass per scale.
        """
        h, w = inputs.shape[-2:]
        total = None
        for scale in self.test_cfg['scales']:
            x = self._rescale(inputs, scale)
            if self.test_cfg['flip']:
                x = torch.cat([x, x.flip(-1)], dim=0)
            with precision_autocast(self.test_cfg['precision'], inputs.device):
                cam = self.single_scale_cams(x)
            cam = self._upsample_cams(cam.float(), x.shape[-2:], (h, w))
            if self.test_cfg['flip']:
                n = inputs.shape[0]
                cam = cam[:n] + cam[n:].flip(-1)
            total = cam if total is None else total + cam
        return self.normalise_cams(total) if normalise else total

    def _rescale(self, inputs: torch.Tensor, scale: float) -> torch.Tensor:
        """The (normalised) inputs at one test scale, by ``test_cfg.scale_mode``."""
        if scale == 1.0:
            return inputs
        if self.test_cfg['scale_mode'] == 'bilinear':
            return F.interpolate(inputs, scale_factor=scale, mode='bilinear',
                                 align_corners=False)
        size = (round(inputs.shape[-2] * scale), round(inputs.shape[-1] * scale))
        pre = self.data_preprocessor
        normalised = getattr(pre, '_enable_normalize', False)
        x = inputs.float() * pre.std + pre.mean if normalised else inputs.float()
        x = F.interpolate(x, size=size, mode='bicubic', align_corners=False, antialias=True)
        x = x.clamp(0, 255).round()
        return ((x - pre.mean) / pre.std if normalised else x).to(inputs.dtype)

    def _upsample_cams(self, cams: torch.Tensor, scaled_size: Sequence[int],
                       size: Sequence[int]) -> torch.Tensor:
        """One scale's CAMs (feature resolution) → ReLU'd, at the input size (h, w)."""
        if self.test_cfg['upsample_via_scaled_input']:
            cams = F.interpolate(cams, size=tuple(scaled_size), mode='bilinear',
                                 align_corners=True)
        return F.interpolate(F.relu(cams), size=tuple(size), mode='bilinear',
                             align_corners=False)

    def normalise_cams(self, cams: torch.Tensor) -> torch.Tensor:
        """Summed CAMs (..., H, W) → [0, 1] per map, by ``test_cfg.norm``."""
        return CAM_NORMS[self.test_cfg['norm']](cams)

    def _present_classes(self, inputs: torch.Tensor,
                         data_samples: Optional[Sequence[SegDataSample]]) -> torch.Tensor:
        """(N, C) 0/1 mask of classes to keep in each image's label map: the image-level
        labels (``test_cfg.use_img_labels``), else the classes the model scores positive."""
        present = image_label_classes(data_samples, self.num_classes, inputs.device,
                                      self.test_cfg['use_img_labels'])
        if present is None:
            present = (self.head.pool(self._forward(inputs)) > 0).to(inputs)
        return present

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        cams = self.inference_cams(inputs, normalise=False)
        return pack_cam_predictions(cams, self._present_classes(inputs, data_samples),
                                    data_samples, self.test_cfg['bg_threshold'],
                                    inputs.shape[2:], self.normalise_cams)
