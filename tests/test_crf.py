"""Dense CRF refinement moves a blobby CAM label onto the object's colour edges."""
import cv2
import numpy as np

from mmwsss.utils.crf import crf_refine_cams


def test_crf_snaps_a_coarse_cam_to_the_object(tmp_path):
    img = np.full((64, 64, 3), (40, 160, 40), np.uint8)
    cv2.rectangle(img, (16, 16), (44, 44), (220, 40, 40), -1)  # red square, RGB
    path = str(tmp_path / 'img.png')
    cv2.imwrite(path, img[..., ::-1])
    truth = np.zeros((64, 64), bool)
    truth[16:45, 16:45] = True
    yy, xx = np.mgrid[:64, :64]
    blob = np.exp(-((yy - 33)**2 + (xx - 33)**2) / (2 * 11.0**2))  # off-centre, blurry
    cams = np.stack([blob, np.zeros_like(blob)]).astype(np.float32)  # class 2 absent

    def iou(mask):
        return (mask & truth).sum() / (mask | truth).sum()

    coarse = blob > 0.5
    refined = crf_refine_cams(path, cams, alpha=4)
    assert set(np.unique(refined).tolist()) <= {0, 1}  # never the absent class
    assert iou(refined == 1) > iou(coarse) + 0.1 and iou(refined == 1) > 0.85
