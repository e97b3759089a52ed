"""Dense CRF: a blobby CAM label moves onto the object's colour edges; worker processes give
the serial labels."""
import os
import signal
import time

import cv2
import numpy as np
import pytest

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


def test_crf_pool_gives_the_serial_labels_and_names_an_unreadable_image(tmp_path):
    from concurrent.futures import Future

    from mmwsss.utils.crf import CRFPool
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(5):
        img = cv2.resize(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), (48, 40),
                         interpolation=cv2.INTER_CUBIC)
        path = str(tmp_path / f'{i}.png')
        cv2.imwrite(path, img)
        cams = cv2.resize(rng.random((5, 6, 4)).astype(np.float32), (48, 40)).transpose(2, 0, 1)
        cams[rng.permutation(4)[:i % 4]] = 0  # 0..3 classes absent; image 4: all present
        jobs.append((path, np.ascontiguousarray(cams)))
    jobs[3][1][:] = 0  # no class present: background everywhere
    serial = [crf_refine_cams(p, c, alpha=2) for p, c in jobs]
    assert len({tuple(np.unique(s)) for s in serial}) > 2 and not serial[3].any()
    pool = CRFPool(workers=2, alpha=2)
    try:  # every worker runs before the first image: none starts inside the label loop
        assert [p.is_alive() for p in pool._pool._processes.values()] == [True, True]
        futures = [pool.submit(p, c) for p, c in jobs]
        (tmp_path / 'broken.png').write_bytes(b'not a png')
        broken = pool.submit(str(tmp_path / 'broken.png'), jobs[0][1])
        assert all(isinstance(f, Future) for f in futures)
        for f, s in zip(futures, serial):
            assert np.array_equal(f.result(timeout=120), s)
        with pytest.raises(OSError, match='broken.png: cannot read the image for the CRF'):
            broken.result(timeout=120)
        # a worker killed (out of memory, say): the CRFs go on in this process, named
        os.kill(next(iter(pool._pool._processes)), signal.SIGKILL)
        deadline = time.time() + 60
        while not pool._pool._broken and time.time() < deadline:
            time.sleep(0.05)
        with pytest.warns(UserWarning, match='CRF worker processes stopped .* runs in this'):
            label = pool.submit(*jobs[2])
        assert isinstance(label, np.ndarray) and np.array_equal(label, serial[2])
        assert pool.workers == 0 and pool._pool is None
    finally:
        pool.close()
    inline = CRFPool(workers=0, alpha=2).submit(*jobs[4])  # no processes: the label at once
    assert isinstance(inline, np.ndarray) and np.array_equal(inline, serial[4])


def test_ctrl_c_is_held_until_the_block_is_done():
    from mmwsss.utils.interrupts import ctrl_c_deferred
    done = []
    with pytest.raises(KeyboardInterrupt):
        with ctrl_c_deferred():
            signal.raise_signal(signal.SIGINT)
            done.append('rest of the block')
    assert done == ['rest of the block']
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


CTRL_C_AS_A_WORKER_STARTS = """
import multiprocessing
import os
import signal
import time
from multiprocessing import forkserver
from mmwsss.utils.crf import CRFPool

read_pid = forkserver.read_signed


def ctrl_c_then_read_pid(fd):  # Ctrl-C once, inside Process.start, the worker forked
    forkserver.read_signed = read_pid
    signal.raise_signal(signal.SIGINT)
    return read_pid(fd)


def running_children(parent):
    left = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != 'Z':
            left.append(pid)
    return left


if __name__ == '__main__':  # the workers import this script
    context = multiprocessing.get_context('forkserver')  # the fork server up and ready, so
    context.set_forkserver_preload(['mmwsss.utils.crf'])  # that it forks at once below
    warm = context.Process(target=os.getpid)
    warm.start()
    warm.join()
    forkserver.read_signed = ctrl_c_then_read_pid
    try:
        CRFPool(workers=2)
    except KeyboardInterrupt:
        server = forkserver._forkserver._forkserver_pid
        left, deadline = 0, time.time() + 2  # the fork server forks when it can
        while time.time() < deadline:
            left = max(left, len(running_children(server)))
            time.sleep(0.05)
        print(f'interrupted; workers left: {left}', flush=True)
"""


def test_ctrl_c_as_a_crf_worker_starts_leaves_no_worker_behind(tmp_path):
    """A worker cut off half-started is no pool's: nothing would stop it (with a terminal's
    Ctrl-C it outlived the run, holding its stdout: ``... | tee log`` never ended)."""
    proc = _run_script(tmp_path, CTRL_C_AS_A_WORKER_STARTS)
    assert proc.stdout == 'interrupted; workers left: 0\n'


A_WORKER_DIES_AS_IT_STARTS = """
import os
import sys
import warnings
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from mmwsss.utils import crf

original_start = crf._ignore_ctrl_c


def first_dies():  # as a worker killed while the pool starts (out of memory, say)
    try:
        os.close(os.open(sys.argv[1], os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return original_start()
    os._exit(3)


if __name__ == '__main__':
    crf._ignore_ctrl_c = first_dies
    cams = np.ones((1, 6, 7), np.float32)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter('always')
        pool = crf.CRFPool(workers=4)
        label = pool.submit(sys.argv[2], cams)
        if isinstance(label, Future):  # the pool broke after it started: this image fails,
            try:                       # the next one is made here
                label.result(timeout=60)
            except BrokenProcessPool:
                label = pool.submit(sys.argv[2], cams)
    print(type(label).__name__, pool.workers,
          sum('CRF worker processes stopped' in str(w.message) for w in said))
"""


def test_a_crf_worker_dying_as_the_pool_starts_leaves_the_crfs_to_this_process(tmp_path):
    img = tmp_path / 'img.png'
    cv2.imwrite(str(img), np.full((6, 7, 3), 90, np.uint8))
    proc = _run_script(tmp_path, A_WORKER_DIES_AS_IT_STARTS, str(tmp_path / 'died'), str(img))
    assert proc.stdout == 'ndarray 0 1\n'  # the label made here, said once


def _run_script(tmp_path, text, *args):
    """Run ``text`` as a script with this checkout's mmwsss; it must end, and end cleanly
    (an orphan process holding its stdout would keep it from returning)."""
    import subprocess
    import sys

    from conftest import ROOT
    script = tmp_path / 'script.py'
    script.write_text(text)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr and 'Exception in' not in proc.stderr, proc.stderr
    return proc
