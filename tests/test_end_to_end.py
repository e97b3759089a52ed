"""The whole path on a tiny synthetic set, step by step as tools/demo.sh runs it."""
import json
import os
import os.path as osp

import pytest
from conftest import (CAM_CFG, SEG_GT_CFG, SEG_PL_CFG, as_cli, load_cfg, run_tool,
                      tiny_overrides)
from mmengine.registry import DATASETS

from mmwsss.apis.cli import apply_test_options
from mmwsss.evaluation.label_dir import evaluate_label_dir


def test_whole_pipeline(tiny_voc, tiny_cam, tmp_path):
    work = str(tmp_path)
    cam_opts = as_cli(tiny_overrides(tiny_voc))
    run_tool('tools/test.py', CAM_CFG, tiny_cam[1], '--split', 'train', '--work-dir', work,
             '--out-metrics', osp.join(work, 'cam_metrics.json'), *cam_opts)
    run_tool('tools/make_pseudo_labels.py', CAM_CFG, tiny_cam[1], '--out',
             osp.join(work, 'pseudo_labels'), '--metrics', osp.join(work, 'cam_metrics.json'),
             '--overlay-dir', osp.join(work, 'overlays'), '--num-overlays', '2',
             '--num-workers', '0', *cam_opts)
    run_tool('tools/eval_labels.py', CAM_CFG, osp.join(work, 'pseudo_labels'), '--out-metrics',
             osp.join(work, 'pseudo_metrics.json'), *cam_opts)
    seg_opts = tiny_overrides(tiny_voc)
    for name, cfg, extra in (
            ('seg_pseudo', SEG_PL_CFG,
             {'train_dataloader.dataset.data_prefix.seg_map_path': osp.join(work, 'pseudo_labels')}),
            ('seg_gt', SEG_GT_CFG, {})):
        run_tool('tools/train.py', cfg, '--work-dir', osp.join(work, name),
                 *as_cli({**seg_opts, **extra}))
        run_tool('tools/test.py', cfg, osp.join(work, name, 'iter_4.pth'), '--work-dir',
                 osp.join(work, name), '--out-metrics', osp.join(work, f'{name}_metrics.json'),
                 *as_cli({**seg_opts, **extra}))
    _check_test_options(tiny_voc, work, seg_opts)
    proc = run_tool('tools/summarize_demo.py', work)
    assert 'WSSS / fully-supervised' in proc.stdout
    pseudo = json.load(open(osp.join(work, 'pseudo_metrics.json')))
    cam = json.load(open(osp.join(work, 'cam_metrics.json')))
    # labels written at the CAM metric's best threshold score what the metric said
    assert abs(pseudo['mIoU'] - cam['mIoU']) < 0.01
    assert len(os.listdir(osp.join(work, 'overlays'))) == 2
    for name in ('seg_pseudo', 'seg_gt'):
        assert 0 <= json.load(open(osp.join(work, f'{name}_metrics.json')))['mIoU'] <= 100


def _check_test_options(tiny_voc, work, seg_opts):
    """tools/test.py --tta --out --show-dir on the segmenter: the PNGs it writes are the
    predictions it scored, one overlay per image."""
    out, show = osp.join(work, 'tta_pred'), osp.join(work, 'tta_show')
    run_tool('tools/test.py', SEG_GT_CFG, osp.join(work, 'seg_gt', 'iter_4.pth'), '--work-dir',
             osp.join(work, 'seg_gt'), '--tta', '--out', out, '--show-dir', show,
             '--out-metrics', osp.join(work, 'tta_metrics.json'), *as_cli(seg_opts))
    val = DATASETS.build(load_cfg(SEG_GT_CFG, seg_opts).test_dataloader.dataset)
    assert len(os.listdir(out)) == len(val)
    reported = json.load(open(osp.join(work, 'tta_metrics.json')))['mIoU']
    assert abs(evaluate_label_dir(out, val)['mIoU'] - reported) < 0.01
    assert len(os.listdir(osp.join(show, 'vis_data', 'vis_image'))) == len(val)


def test_test_options_name_what_a_config_lacks(tiny_voc):
    cam = load_cfg(CAM_CFG, tiny_overrides(tiny_voc))
    with pytest.raises(KeyError, match='--tta needs tta_model and tta_pipeline'):
        apply_test_options(cam.copy(), tta=True)
    with pytest.raises(ValueError, match='make_pseudo_labels'):
        apply_test_options(cam.copy(), out='preds')
    seg = apply_test_options(load_cfg(SEG_GT_CFG, {}), out='preds', tta=True)
    assert seg.model.type == 'SegTTAModel' and seg.model.module.type == 'EncoderDecoder'
    assert seg.test_evaluator.output_dir == 'preds'
