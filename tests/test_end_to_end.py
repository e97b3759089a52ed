"""The whole path on a tiny synthetic set, step by step as tools/demo.sh runs it."""
import json
import os
import os.path as osp

from conftest import CAM_CFG, SEG_GT_CFG, SEG_PL_CFG, as_cli, run_tool, tiny_overrides


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
    proc = run_tool('tools/summarize_demo.py', work)
    assert 'WSSS / fully-supervised' in proc.stdout
    pseudo = json.load(open(osp.join(work, 'pseudo_metrics.json')))
    cam = json.load(open(osp.join(work, 'cam_metrics.json')))
    # labels written at the CAM metric's best threshold score what the metric said
    assert abs(pseudo['mIoU'] - cam['mIoU']) < 0.01
    assert len(os.listdir(osp.join(work, 'overlays'))) == 2
    for name in ('seg_pseudo', 'seg_gt'):
        assert 0 <= json.load(open(osp.join(work, f'{name}_metrics.json')))['mIoU'] <= 100
