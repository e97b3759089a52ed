"""Tensor helpers shared by CAM models, label generators and metrics."""
import torch


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
    ``ReLU(x - min - eps) / (max - min + eps)``."""
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
