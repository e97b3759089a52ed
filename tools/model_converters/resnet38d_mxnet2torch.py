"""Convert the ResNet-38 ImageNet weights (MXNet .params) into a ResNet38d checkpoint.

    python tools/model_converters/resnet38d_mxnet2torch.py \
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params checkpoints/resnet38d-imagenet.pth
"""
import argparse
import os.path as osp

import torch

from mmwsss.apis.cli import run_main
from mmwsss.models.backbones.resnet38d import ResNet38d
from mmwsss.models.backbones.resnet38d_weights import convert_resnet38d_mxnet
from mmwsss.utils import atomic_write, check_writable_dir


def main():
    parser = argparse.ArgumentParser(description='ResNet-38 MXNet → ResNet38d state dict')
    parser.add_argument('src', help='MXNet .params file')
    parser.add_argument('dst', help='output .pth')
    args = parser.parse_args()
    check_writable_dir(osp.dirname(osp.abspath(args.dst)), 'output folder')
    state = convert_resnet38d_mxnet(args.src)
    ResNet38d().load_state_dict(state, strict=True)  # every backbone weight is there
    with atomic_write(args.dst) as tmp:  # an interrupted save leaves no truncated .pth
        torch.save(state, tmp)
    print(f'{len(state)} tensors -> {args.dst}')


if __name__ == '__main__':
    run_main(main, 'nothing was written; run the same command again')
