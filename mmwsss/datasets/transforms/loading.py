"""Loading images, checked.

mmwsss's ``LoadImageFromFile`` and ``LoadAnnotations`` (``annotations.py``) are registered
under mmcv's / mmseg's names in the mmwsss scope, so the configs read as stock mmseg ones: they
load the same arrays, and a file that is unreadable, or a mask that cannot be a label map of
its image, is an error that names the file instead of failing later without it (an OpenCV
assertion, a CUDA device assert in the loss) or not at all (a wrong-size pseudo-label trains
silently; mmseg's IoUMetric drops out-of-range values).
"""
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile

from mmwsss.registry import TRANSFORMS


@TRANSFORMS.register_module(name='LoadImageFromFile')
class LoadImageFromFileNamed(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; an image that cannot be decoded (empty, truncated, not
    an image) is a ``ValueError`` naming it."""

    def transform(self, results: dict) -> dict:
        try:
            return super().transform(results)
        except FileNotFoundError:
            raise
        except Exception as e:  # noqa: BLE001 -- re-raised with the file name
            lines = str(e).strip().splitlines()  # OpenCV's last line says what failed
            raise ValueError(f'image {results.get("img_path")} cannot be read '
                             f'({type(e).__name__}: {lines[-1] if lines else ""}); the file '
                             'may be empty, truncated or not an image') from e
