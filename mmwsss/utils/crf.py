"""Dense CRF refinement of CAM label maps (pydensecrf, as PSA/SEAM's imutils.crf_inference)."""
import numpy as np


def crf_refine_cams(img_path: str, cams: np.ndarray, alpha: float = 4.0, iters: int = 10,
                    gauss_sxy: float = 3, gauss_compat: float = 3, bi_sxy: float = 80,
                    bi_srgb: float = 13, bi_compat: float = 10) -> np.ndarray:
    """Label map (H, W) from normalised CAMs (C, H, W) refined by a dense CRF.

    Background probability is ``(1 - max_c cam_c) ** alpha`` and the CRF's kernels are
    SEAM's (``infer_SEAM.py``/``tool/imutils.py:crf_inference``: Gaussian sxy 3 compat 3,
    bilateral sxy 80 srgb 13 compat 10, 10 iterations). Classes with an all-zero CAM (absent
    from the image-level label) can never win.
    """
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_softmax
    except ImportError as e:
        raise ImportError('CRF refinement needs pydensecrf: `pip install pydensecrf2` '
                          '(or set crf=None in label_generator)') from e
    import mmcv
    img = mmcv.imread(img_path, channel_order='rgb')
    if img is None:
        raise OSError(f'{img_path}: cannot read image for CRF')
    h, w = cams.shape[1:]
    if img.shape[:2] != (h, w):
        raise ValueError(f'{img_path}: image {img.shape[:2]} and CAM {(h, w)} sizes differ')
    bg = (1 - cams.max(axis=0, keepdims=True)) ** alpha
    probs = np.concatenate([bg, cams], axis=0).astype(np.float32)
    present = np.concatenate([[True], cams.reshape(cams.shape[0], -1).max(1) > 0])
    probs = probs[present]
    probs = probs / np.maximum(probs.sum(0, keepdims=True), 1e-8)
    d = dcrf.DenseCRF2D(w, h, probs.shape[0])
    d.setUnaryEnergy(unary_from_softmax(np.clip(probs, 1e-5, 1.0)))
    d.addPairwiseGaussian(sxy=gauss_sxy, compat=gauss_compat)
    d.addPairwiseBilateral(sxy=bi_sxy, srgb=bi_srgb, rgbim=np.ascontiguousarray(img),
                           compat=bi_compat)
    q = np.array(d.inference(iters)).reshape(-1, h, w)
    classes = np.flatnonzero(present)
    return classes[q.argmax(0)].astype(np.uint8)
