"""CAM heatmaps and the label map of single images: one picture per image."""
import argparse
import sys

from mmwsss.apis.cli import run_main
from mmwsss.apis.inference import class_indices, init_cam_model, save_cam_demo
from mmwsss.visualization import unique_names


def main():
    parser = argparse.ArgumentParser(description='mmwsss: CAMs of single images as pictures')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--config', required=True, help='the CAM model config')
    parser.add_argument('--checkpoint', required=True, help='its checkpoint')
    parser.add_argument('--classes', nargs='+',
                        help='the image-level label (class names), as in label generation; '
                        'default: the classes the model scores positive')
    parser.add_argument('--out-dir', default='work_dirs/cam_demo',
                        help='one image | label | heatmaps picture per image')
    parser.add_argument('--device', default='cpu', help="e.g. 'cuda:0'")
    args = parser.parse_args()
    model = init_cam_model(args.config, args.checkpoint, args.device)
    if args.classes:  # once, before any image: a wrong name is no image's fault
        try:
            class_indices(args.classes, model.dataset_meta['classes'])
        except KeyError as e:
            parser.error(f'--classes: {e.args[0]}')
    failed = 0
    # a bad image costs only its own picture; images of one name (a/x.jpg, b/x.jpg) get
    # pictures of their own (a/x.png, b/x.png)
    for img, name in zip(args.images, unique_names(args.images)):
        try:
            print(save_cam_demo(model, img, args.out_dir, args.classes, name))
        except (OSError, ValueError) as e:
            print(f'{img}: {e}', file=sys.stderr)
            failed += 1
    if failed:
        sys.exit(f'{failed} of {len(args.images)} images failed (above)')


if __name__ == '__main__':
    run_main(main, 'the pictures written so far are kept')
