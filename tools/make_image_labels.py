"""Write cls_labels.json (image-level labels) for a VOC-layout dataset from its masks."""
import argparse

from mmwsss.datasets.converters import write_image_labels


def main():
    parser = argparse.ArgumentParser(description='mmwsss: image-level labels from masks')
    parser.add_argument('data_root', help='e.g. data/VOCdevkit/VOC2012')
    parser.add_argument('--split', default='ImageSets/Segmentation/train_aug.txt')
    parser.add_argument('--mask-dir', default='SegmentationClassAug')
    parser.add_argument('--out', default='cls_labels.json', help='relative to data_root')
    args = parser.parse_args()
    labels = write_image_labels(args.data_root, args.split, args.mask_dir, args.out)
    print(f'\n{len(labels)} images -> {args.data_root}/{args.out}')


if __name__ == '__main__':
    main()
