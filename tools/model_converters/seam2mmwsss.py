"""Convert a trained SEAM (or HFPL) ``network/resnet38_SEAM.py:Net`` into an mmwsss checkpoint,
so that the authors' released weights run through tools/test.py and make_pseudo_labels.py.

    python tools/model_converters/seam2mmwsss.py resnet38_SEAM.pth checkpoints/seam_official.pth
    python tools/test.py configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py \
        checkpoints/seam_official.pth --split train

The result is checked against the model of --config (default: the SEAM VOC config; HFPL's
COCO weights: --config configs/seam/seam_wr38_1xb8-8e_coco14-448x448.py).
"""
import argparse
import os.path as osp

import torch

from mmwsss.apis.cli import run_main
from mmwsss.models.backbones.resnet38d_weights import convert_official_seam
from mmwsss.utils import atomic_write, check_writable_dir
from mmwsss.utils.checkpoint import check_weights_fit_config

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
    check_weights_fit_config(state, args.config, f'SEAM checkpoint {args.src}',
                             'Give the --config it was trained for (COCO weights, fc8 of 81 '
                             'rows: configs/seam/seam_wr38_1xb8-8e_coco14-448x448.py)')
    with atomic_write(args.dst) as tmp:  # an interrupted save leaves no truncated .pth
        torch.save(dict(state_dict=state, meta=dict(converted_from=osp.abspath(args.src))),
                   tmp)
    print(f'{len(state)} tensors -> {args.dst}')


if __name__ == '__main__':
    run_main(main, 'nothing was written; run the same command again')
