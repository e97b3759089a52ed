"""Convert a trained SEAM (or HFPL) ``network/resnet38_SEAM.py:Net`` into an mmwsss checkpoint,
so that the authors' released weights run through tools/test.py and make_pseudo_labels.py.

    python tools/model_converters/seam2mmwsss.py resnet38_SEAM.pth checkpoints/seam_official.pth
    python tools/test.py configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py \
        checkpoints/seam_official.pth --split train

The result is checked against the model of --config (default: the SEAM config of VOC or of
COCO, by the number of classes fc8 scores: 21 rows or 81, background first).
"""
import argparse
import os.path as osp

import torch

from mmwsss.apis.cli import run_main
from mmwsss.models.backbones.resnet38d_weights import convert_official_seam
from mmwsss.utils import atomic_write, check_writable_dir
from mmwsss.utils.checkpoint import check_weights_fit_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# foreground classes of fc8 → the SEAM config of that dataset
DEFAULT_CONFIGS = {20: osp.join(ROOT, 'configs/seam/seam_wr38_1xb8-8e_voc12aug-448x448.py'),
                   80: osp.join(ROOT, 'configs/seam/seam_wr38_1xb8-8e_coco14-448x448.py')}


def main():
    parser = argparse.ArgumentParser(description='SEAM/HFPL Net state dict → mmwsss checkpoint')
    parser.add_argument('src', help="the .pth SEAM's or HFPL's train script saved")
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--config', help='the mmwsss config whose model the weights must fit '
                        '(default: the SEAM config of VOC or COCO, by the classes of fc8)')
    args = parser.parse_args()
    check_writable_dir(osp.dirname(osp.abspath(args.dst)), 'output folder')
    state = convert_official_seam(args.src)
    classes = state['head.classifier.weight'].shape[0]
    config = args.config or DEFAULT_CONFIGS.get(classes)
    if config is None:
        raise SystemExit(f'{args.src}: fc8 scores {classes} classes (VOC: 20, COCO: 80); give '
                         'the --config it was trained with')
    check_weights_fit_config(state, config, f'SEAM checkpoint {args.src}',
                             'Give the --config it was trained with')
    with atomic_write(args.dst) as tmp:  # an interrupted save leaves no truncated .pth
        torch.save(dict(state_dict=state, meta=dict(converted_from=osp.abspath(args.src))),
                   tmp)
    print(f'{len(state)} tensors -> {args.dst} (fits {osp.relpath(config)})')


if __name__ == '__main__':
    run_main(main, 'nothing was written; run the same command again')
