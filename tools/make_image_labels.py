"""Write cls_labels.json (image-level labels) for a VOC-layout dataset from its masks."""
import argparse
import os.path as osp

from mmwsss.apis.cli import run_main
from mmwsss.datasets.converters import write_image_labels


def main():
    parser = argparse.ArgumentParser(description='mmwsss: image-level labels from masks')
    parser.add_argument('data_root', help='e.g. data/VOCdevkit/VOC2012')
    parser.add_argument('--split', default='ImageSets/Segmentation/train_aug.txt')
    parser.add_argument('--mask-dir', default='SegmentationClassAug')
    parser.add_argument('--out', default='cls_labels.json', help='relative to data_root')
    parser.add_argument('--num-classes', type=int, required=True,
                        help='classes with background (VOC 21, COCO 81): other mask values '
                        'than these and 255 are an error naming the mask (without it a bad '
                        'mask value would become a class of the labels file)')
    args = parser.parse_args()
    labels = write_image_labels(args.data_root, args.split, args.mask_dir, args.out,
                                args.num_classes)
    print(f'\n{len(labels)} images -> {osp.join(args.data_root, args.out)}')


if __name__ == '__main__':
    run_main(main, 'nothing was written (the labels file is written whole, at the end); run '
                   'the same command again')
