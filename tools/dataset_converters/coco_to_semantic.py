"""COCO 2014 instance annotations → semantic masks + split list (docs/datasets.md)."""
import argparse

from mmwsss.apis.cli import run_main
from mmwsss.datasets.converters import coco_to_semantic


def main():
    parser = argparse.ArgumentParser(description='mmwsss: COCO semantic masks')
    parser.add_argument('data_root', help='e.g. data/coco2014')
    parser.add_argument('--split', default='train2014')
    args = parser.parse_args()
    n = coco_to_semantic(args.data_root, args.split)
    print(f'\n{n} images listed in {args.data_root}/ImageSets/{args.split}.txt')


if __name__ == '__main__':
    run_main(main, 'the masks written so far are kept; run the same command again to make '
                   'the rest')
