"""docs/add_a_method.md, run as written: its code blocks become files, then train + build."""
import os
import os.path as osp
import re
import subprocess
import sys

import torch

from conftest import ROOT, as_cli, run_tool, tiny_overrides

DOC = osp.join(ROOT, 'docs/add_a_method.md')


def _write_blocks(dest):
    """Each ```python block starts with '# <path>': write it there, return the paths."""
    text = open(DOC).read()
    paths = []
    for block in re.findall(r'```python\n(.*?)```', text, re.S):
        rel = block.splitlines()[0].lstrip('# ').strip()
        path = osp.join(dest, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        open(path, 'w').write(block)
        paths.append(path)
    open(osp.join(dest, 'my_wsss', '__init__.py'), 'w').close()
    return paths


def test_tutorial_plugin_trains(tiny_voc, tmp_path):
    pooling_file, cfg_file = _write_blocks(str(tmp_path))
    os.symlink(osp.join(ROOT, 'configs'), tmp_path / 'configs')  # my_wsss/ beside configs/
    assert pooling_file.endswith('lse_pooling.py') and cfg_file.endswith('.py')
    env = {'PYTHONPATH': str(tmp_path)}
    work = str(tmp_path / 'work')
    run_tool('tools/train.py', cfg_file, '--work-dir', work,
             *as_cli(tiny_overrides(tiny_voc, iters=2)), env=env)
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), weights_only=True)
    assert ckpt['meta']['cfg'].count("type='lse'") == 1
    # the head trains on the new pooling, which lies between the mean and the max of each map
    code = ('import sys, torch; sys.path.insert(0, sys.argv[1]);'
            'import my_wsss.lse_pooling;'
            'from mmwsss.models.heads import CAMHead;'
            'from mmwsss.models.utils import multi_hot;'
            'from mmseg.structures import SegDataSample;'
            "h = CAMHead(in_channels=4, num_classes=2, pooling=dict(type='lse', r=5.0));"
            'x = torch.randn(3, 2, 4, 4); p = h.pool(x);'
            'assert (p >= x.mean((2, 3)) - 1e-5).all() and (p <= x.amax((2, 3))).all();'
            'ds = [SegDataSample() for _ in range(3)];'
            '[d.set_field(torch.tensor([1]), "gt_img_labels") for d in ds];'
            'loss = h.loss_by_cams(x, ds)["loss_cls"];'
            'ref = h.loss_cls(p, multi_hot(ds, 2));'
            'assert torch.allclose(loss, ref), (loss, ref)')
    subprocess.run([sys.executable, '-c', code, str(tmp_path)], check=True, cwd=ROOT)
