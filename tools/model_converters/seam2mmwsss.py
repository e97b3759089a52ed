"""Convert a trained SEAM (or HFPL) ``network/resnet38_SEAM.py:Net`` into an mmwsss checkpoint,
so that the authors' released weights run through tools/test.py and make_pseudo_labels.py.

    python tools/model_converters/seam2mmwsss.py resnet38_SEAM.pth checkpoints/seam_official.pth
    python tools/test.py configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py \
        checkpoints/seam_official.pth --split train

The result is checked against the model of --config (default: the SEAM VOC config).
"""
import argparse
import os.path as osp

import torch

from mmwsss.apis.cli import run_main
from mmwsss.models.backbones.resnet38d_weights import convert_official_seam
from mmwsss.utils import atomic_write, check_writable_dir

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser(description='SEAM/HFPL Net state dict → mmwsss checkpoint')
    parser.add_argument('src', help="the .pth SEAM's or HFPL's train script saved")
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py'),
        help='the mmwsss config whose model the weights must fit')
    args = parser.parse_args()
    check_writable_dir(osp.dirname(osp.abspath(args.dst)), 'output folder')
    state = convert_official_seam(args.src)
    check_fits(state, args.config, args.src)
    with atomic_write(args.dst) as tmp:  # an interrupted save leaves no truncated .pth
        torch.save(dict(state_dict=state, meta=dict(converted_from=osp.abspath(args.src))),
                   tmp)
    print(f'{len(state)} tensors -> {args.dst}')


def check_fits(state: dict, config: str, src: str) -> None:
    """Every weight of the config's model is in ``state`` with its shape."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmwsss.models.builder import build_module
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    cfg.model.backbone.init_cfg = None  # the ImageNet weights are not needed to check names
    with torch.device('meta'):
        own = build_module(cfg.model).state_dict()
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    wrong = [f'{k} {tuple(state[k].shape)} (model: {tuple(own[k].shape)})'
             for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ValueError(f'{src} does not fit the model of {config}: missing {missing[:4]}, '
                         f'other shapes {wrong[:3]} (a COCO checkpoint needs a COCO config)')


if __name__ == '__main__':
    run_main(main, 'nothing was written; run the same command again')
