"""Tensor helpers shared by CAM models, label generators and metrics."""
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


def max_norm(cams: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """ReLU, then divide each map by its spatial max, so each class lies in [0, 1].

    Works on (..., H, W); a map that is zero everywhere stays zero.
    """
    cams = torch.relu(cams)
    peak = cams.flatten(-2).amax(-1)[..., None, None]
    return cams / (peak + eps)


def cams_to_label_map(cams: torch.Tensor, bg_threshold: float) -> torch.Tensor:
    """(C, H, W) normalised CAMs → (H, W) labels: 0 where no class beats ``bg_threshold``,
    else 1 + argmax class (a constant background channel, ties to background, as in PSA/SEAM).
    """
    score, cls = cams.max(dim=0)
    return torch.where(score > bg_threshold, cls + 1, torch.zeros_like(cls)).long()


def multi_hot(data_samples, num_classes: int, device=None) -> torch.Tensor:
    """(N, num_classes) float targets from each sample's ``gt_img_labels`` (1-based foreground
    class indices): entry ``c - 1`` is 1 when class ``c`` is present.

    One scatter for the whole batch, and no host-device synchronisation when the labels are
    on the GPU (the range check is then an asynchronous device assertion)."""
    labels = [ds.gt_img_labels.reshape(-1) for ds in data_samples]
    out = torch.zeros(len(data_samples), num_classes, device=device)
    if not labels or not sum(lab.numel() for lab in labels):
        return out
    for ds, lab in zip(data_samples, labels):
        # labels on the host (CPU runs) are checked there, in numpy: no tensor op to dispatch
        host = lab.numpy() if lab.device.type == 'cpu' else None
        if host is not None and host.size and (host.min() < 1 or host.max() > num_classes):
            raise ValueError(f'{ds.metainfo.get("img_path")}: image-level labels '
                             f'{host.tolist()} outside 1..{num_classes}')
    # row indices made on the device: a host tensor copied there would synchronise the stream
    rows = torch.cat([torch.full((lab.numel(), ), i, dtype=torch.long, device=out.device)
                      for i, lab in enumerate(labels)])
    cols = torch.cat([lab.to(device=out.device, dtype=torch.long) for lab in labels]) - 1
    if cols.device.type != 'cpu':
        torch._assert_async(((cols >= 0) & (cols < num_classes)).all(),
                            f'image-level labels outside 1..{num_classes}')
    out[rows, cols] = 1
    return out


def pixel_accuracy(logits: torch.Tensor, labels: torch.Tensor,
                   ignore_index: int = 255) -> torch.Tensor:
    """mmseg's top-1 ``accuracy`` (percent of the non-ignored pixels whose top class is the
    label, shape (1,)), without boolean indexing: no host-device synchronisation on a GPU."""
    valid = labels != ignore_index
    correct = ((logits.argmax(1) == labels) & valid).sum().float()
    eps = torch.finfo(torch.float32).eps
    return ((correct + eps) * 100.0 / (valid.sum().float() + eps)).view(1)


def min_max_norm(cams: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """SEAM's ``tool/visualization.py:max_norm`` on (N, C, H, W): ReLU, then per map
    ``ReLU(x - min - eps) / (max - min + eps)``.

    It is also ``infer_SEAM.py``'s normalisation of the summed multi-scale CAM (HFPL's
    ``infer_cam_voc.py`` too), but for pixels within ``eps`` of the minimum and absent
    classes, which that script leaves negative (``-(min + eps) / (max - min + eps)``, and -1)
    and which are 0 here: below every background threshold either way, and a CRF takes them
    as probabilities."""
    cams = torch.relu(cams)
    flat = cams.flatten(2)
    mn = flat.amin(-1)[..., None, None]
    mx = flat.amax(-1)[..., None, None]
    return torch.relu(cams - mn - eps) / (mx - mn + eps)


def with_background(fg: torch.Tensor) -> torch.Tensor:
    """Prepend SEAM's background channel ``1 - max_c fg_c`` to (N, C, H, W) maps in [0, 1]."""
    return torch.cat([1 - fg.amax(dim=1, keepdim=True), fg], dim=1)


def keep_argmax_foreground(cams: torch.Tensor) -> torch.Tensor:
    """Zero every foreground channel (1:) except the pixel's top one; background untouched.
    SEAM's ``max_onehot`` (train_SEAM.py) and the masking in ``Net.forward``, out of place."""
    fg = cams[:, 1:]
    top = fg.amax(dim=1, keepdim=True)
    return torch.cat([cams[:, :1], torch.where(fg < top, torch.zeros_like(fg), fg)], dim=1)


# mmcv's RandomFlip directions → the dims they flip
_FLIP_DIMS = dict(horizontal=(-1, ), vertical=(-2, ), diagonal=(-2, -1))


def to_original_size(x: torch.Tensor, meta: dict, after_crop=None) -> torch.Tensor:
    """Undo padding (``img_shape``) and resizing (``ori_shape``) of a (1, C, H, W) map;
    ``after_crop`` (e.g. normalisation) is applied to the un-padded map."""
    img_h, img_w = meta.get('img_shape', x.shape[-2:])[:2]
    x = x[..., :img_h, :img_w]
    if after_crop is not None:
        x = after_crop(x)
    if meta.get('flip', False):  # a flip in the test pipeline
        x = x.flip(_FLIP_DIMS[meta.get('flip_direction', 'horizontal')])
    ori = tuple(meta.get('ori_shape', (img_h, img_w))[:2])
    if tuple(x.shape[-2:]) != ori:
        x = F.interpolate(x, size=ori, mode='bilinear', align_corners=False)
    return x


def image_label_classes(data_samples: Sequence[SegDataSample], num_classes: int, device,
                        use: bool = True) -> Optional[torch.Tensor]:
    """(N, num_classes) multi-hot of the image-level labels, when ``use`` and every sample
    has them; None otherwise (the model then predicts the classes itself)."""
    if use and data_samples and all('gt_img_labels' in ds for ds in data_samples):
        return multi_hot(data_samples, num_classes, device)
    return None


def pack_cam_predictions(cams: torch.Tensor, present: torch.Tensor,
                         data_samples: Optional[List[SegDataSample]], bg_threshold: float,
                         input_shape: Sequence[int],
                         after_crop: Optional[Callable] = None) -> List[SegDataSample]:
    """What a CAM model's ``predict`` returns: per image, its CAMs (N, C, H, W) at the original
    size (``to_original_size``, ``after_crop`` normalising the un-padded maps), classes not in
    ``present`` (N, C) zeroed, as ``pred_cam``, and their label map at ``bg_threshold`` as
    ``pred_sem_seg``. Without ``data_samples``, the inputs (``input_shape``: their H, W) are
    taken as the original images."""
    if data_samples is None:
        shape = tuple(input_shape)
        data_samples = [SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
                        for _ in cams]
    for i, ds in enumerate(data_samples):
        cam = to_original_size(cams[i:i + 1], ds.metainfo, after_crop)[0]
        cam = cam * present[i, :, None, None]
        ds.set_data(dict(pred_cam=PixelData(data=cam)))
        label = cams_to_label_map(cam, bg_threshold)
        ds.set_data(dict(pred_sem_seg=PixelData(data=label[None])))
    return data_samples


def mask_priority_order(scores: torch.Tensor, areas: torch.Tensor) -> torch.Tensor:
    """Indices of masks from lowest to highest priority, for ``paint_masks``: the higher score
    wins; equal scores, the smaller area (pixels); then the earlier mask."""
    order = torch.arange(len(scores), device=scores.device).flip(0)  # earlier = painted later
    order = order[areas.to(scores.device)[order].argsort(descending=True, stable=True)]
    return order[scores[order].argsort(stable=True)]


def paint_masks(masks: torch.Tensor, labels: torch.Tensor, order: torch.Tensor,
                fill: int, chunk: int = 64) -> torch.Tensor:
    """(H, W) long label map from (n, H, W) bool masks painted in ``order`` (lowest priority
    first, so where masks overlap the one painted last wins); pixels of no mask get ``fill``.

    Tensor ops over ``chunk`` masks at a time instead of one per mask: each pixel takes the
    highest paint rank among the masks covering it (rank 0: none), then a lookup turns ranks
    into labels. No host synchronisation; extra memory is ``chunk`` int16 maps at most.
    """
    n, h, w = masks.shape
    device = masks.device
    if n == 0:
        return torch.full((h, w), fill, dtype=torch.long, device=device)
    order = order.to(device)
    rank_dtype = torch.int16 if n < torch.iinfo(torch.int16).max else torch.int32
    rank = torch.empty(n, dtype=rank_dtype, device=device)
    rank[order] = torch.arange(1, n + 1, dtype=rank_dtype, device=device)
    top = torch.zeros((h, w), dtype=rank_dtype, device=device)
    for start in range(0, n, chunk):
        part = torch.where(masks[start:start + chunk].bool(),
                           rank[start:start + chunk, None, None], top.new_zeros(()))
        top = torch.maximum(top, part.amax(0))
    lut = torch.cat([torch.full((1,), fill, dtype=torch.long, device=device),
                     labels.to(device).long()[order]])
    return lut[top.long()]
