"""Dense CRF refinement of CAM label maps (pydensecrf, as PSA/SEAM's imutils.crf_inference),
one image at a time or many at once on worker processes (``CRFPool``)."""
import multiprocessing
import os
import signal
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Optional, Sequence, Union

import numpy as np

from .interrupts import ctrl_c_deferred


def crf_refine_cams(img_path: str, cams: np.ndarray, alpha: float = 4.0, iters: int = 10,
                    gauss_sxy: float = 3, gauss_compat: float = 3, bi_sxy: float = 80,
                    bi_srgb: float = 13, bi_compat: float = 10) -> np.ndarray:
    """Label map (H, W) from normalised CAMs (C, H, W) refined by a dense CRF.

    Background probability is ``(1 - max_c cam_c) ** alpha`` and the CRF's kernels are
    SEAM's (``infer_SEAM.py``/``tool/imutils.py:crf_inference``: Gaussian sxy 3 compat 3,
    bilateral sxy 80 srgb 13 compat 10, 10 iterations). Classes with an all-zero CAM (absent
    from the image-level label) can never win.
    """
    rows = present_rows(cams)
    return crf_label(img_path, cams[rows], rows + 1, alpha, iters, gauss_sxy, gauss_compat,
                     bi_sxy, bi_srgb, bi_compat)


def present_rows(cams: np.ndarray) -> np.ndarray:
    """Indices of the CAMs that are not all zero (the classes the CRF may choose)."""
    return np.flatnonzero(cams.reshape(cams.shape[0], -1).max(1) > 0)


def crf_label(img_path: str, cams: np.ndarray, classes: Sequence[int], alpha: float = 4.0,
              iters: int = 10, gauss_sxy: float = 3, gauss_compat: float = 3,
              bi_sxy: float = 80, bi_srgb: float = 13, bi_compat: float = 10) -> np.ndarray:
    """``crf_refine_cams`` on the CAMs of the present classes only (``cams[i]`` is class
    ``classes[i]``), which is all a worker process needs to be sent."""
    try:
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_softmax
    except ImportError as e:
        raise ImportError('CRF refinement needs pydensecrf: `pip install pydensecrf2` '
                          '(or set crf=None in label_generator)') from e
    from .io import read_rgb_image
    img = read_rgb_image(img_path, 'image for the CRF')
    h, w = cams.shape[1:]
    if img.shape[:2] != (h, w):
        raise ValueError(f'{img_path}: image {img.shape[:2]} and CAM {(h, w)} sizes differ')
    bg = (1 - cams.max(axis=0, keepdims=True, initial=0)) ** alpha
    probs = np.concatenate([bg, cams], axis=0).astype(np.float32)
    probs = probs / np.maximum(probs.sum(0, keepdims=True), 1e-8)
    d = dcrf.DenseCRF2D(w, h, probs.shape[0])
    d.setUnaryEnergy(unary_from_softmax(np.clip(probs, 1e-5, 1.0)))
    d.addPairwiseGaussian(sxy=gauss_sxy, compat=gauss_compat)
    d.addPairwiseBilateral(sxy=bi_sxy, srgb=bi_srgb, rgbim=img,
                           compat=bi_compat)
    q = np.array(d.inference(iters)).reshape(-1, h, w)
    values = np.concatenate([[0], np.asarray(classes, np.int64)])
    return values[q.argmax(0)].astype(np.uint8)


def default_crf_workers() -> int:
    """The CPU cores this process may use, shared among the ranks of this machine
    (torchrun's ``LOCAL_WORLD_SIZE``; Slurm binds each task to its own cores already)."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
             else os.cpu_count() or 1)
    return max(1, cores // max(1, int(os.environ.get('LOCAL_WORLD_SIZE') or 1)))


class CRFPool:
    """Dense CRFs of many images at once, on worker processes.

    pydensecrf holds the GIL through its whole inference (about 0.5 s for a VOC image, while
    the GPU makes its CAMs in a few ms), so threads cannot overlap it and a label run would
    wait on one core. ``submit`` hands each image to one of ``workers`` processes and returns
    a ``Future`` of its label; the caller moves on to the next batch. The workers are forked
    from a fork server that imported this module once (not from the CUDA process, and not
    spawned one by one, each importing torch). All of them start as the pool is made, which
    waits for that import (seconds), so none starts inside the label loop.

    A Ctrl-C while a worker starts or an image is handed over takes effect just after:
    a process killed half-started would leave the fork server behind, holding the terminal.

    Args:
        workers: processes; ``None``: ``default_crf_workers()``; ``0``: each CRF runs in this
            process at once and ``submit`` returns the label itself.
        crf_args: ``crf_refine_cams`` arguments.
    """

    def __init__(self, workers: Optional[int] = None, **crf_args) -> None:
        self.workers = default_crf_workers() if workers is None else int(workers)
        if self.workers < 0:
            raise ValueError(f'crf_workers={workers}: use 0 (no worker processes) or more')
        self.crf_args = crf_args
        self._pool: Optional[ProcessPoolExecutor] = None
        if self.workers:
            self._pool = self._start_workers()

    def _start_workers(self) -> Optional[ProcessPoolExecutor]:
        """A pool with all its workers started (``None`` if they could not start: the CRFs
        run here then, with a warning). ProcessPoolExecutor starts a worker per task while
        none is idle, each start racing with the pool's manager thread should a worker die
        (CPython 3.11); its ``_launch_processes`` (CPython 3.11 to 3.13) starts them all
        before that thread. A worker that dies later breaks the pool: ``submit`` falls back
        then."""
        context = multiprocessing.get_context('forkserver')
        context.set_forkserver_preload([__name__])
        pool = ProcessPoolExecutor(self.workers, mp_context=context,
                                   initializer=_ignore_ctrl_c)
        try:
            with ctrl_c_deferred():
                getattr(pool, '_launch_processes', lambda: None)()
                started = [pool.submit(int) for _ in range(self.workers)]
            for future in started:
                future.result()
        except (BrokenProcessPool, OSError) as e:  # a worker died, or could not be started
            pool.shutdown(wait=True, cancel_futures=True)
            self._run_here_from_now(e)
            return None
        except BaseException:  # Ctrl-C: the workers are up, and stopped at once
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        return pool

    def _run_here_from_now(self, error: BaseException) -> None:
        warnings.warn(
            f'the CRF worker processes stopped ({error}); from here on each CRF runs in this '
            'process, one image at a time. A worker stops when it runs out of memory or '
            'is killed, or when the main script does its work on import (a new process '
            "imports it): start that work under `if __name__ == '__main__':`")
        self.close()
        self.workers = 0

    def submit(self, img_path: str, cams: np.ndarray) -> Union[np.ndarray, Future]:
        """The label of one image (CAMs C×H×W, zero for absent classes), or its ``Future``."""
        rows = present_rows(cams)
        args = (img_path, np.ascontiguousarray(cams[rows]), rows + 1)
        if self._pool is None:
            return crf_label(*args, **self.crf_args)
        try:
            with ctrl_c_deferred():
                return self._pool.submit(crf_label, *args, **self.crf_args)
        except BrokenProcessPool as e:  # the images in flight failed; the others go on here
            self._run_here_from_now(e)
            return crf_label(*args, **self.crf_args)

    def close(self, cancel: bool = False) -> None:
        """Stop the workers after the submitted images (``cancel``: only those started; the
        others' futures are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None


def _ignore_ctrl_c() -> None:
    """Ctrl-C reaches the workers too: they finish the image they hold, and the label run,
    which gets it as well, decides what else is done (``CRFPool.close``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
