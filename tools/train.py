"""Train a CAM model or an mmseg segmenter from a config (MMEngine Runner)."""
import argparse

from mmengine.runner import Runner

from mmwsss.apis.cli import apply_train_options, load_tool_config, run_main, tool_parser
from mmwsss.apis.precision import TRAIN_PRECISIONS
from mmwsss.utils import check_config_checkpoints, prepare_distributed


def main():
    parser = tool_parser('mmwsss: train a model')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir (if any)')
    parser.add_argument('--resume-from', metavar='CHECKPOINT',
                        help='resume from this checkpoint')
    parser.add_argument('--precision', choices=TRAIN_PRECISIONS,
                        help="override the config's train_precision (GPU configs: bf16)")
    parser.add_argument('--amp', action='store_true', help='same as --precision bf16')
    parser.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                        help="override the config's channels_last switch")
    args = parser.parse_args()
    cfg = load_tool_config(args, args.work_dir)
    apply_train_options(cfg, args.precision or ('bf16' if args.amp else None),
                        args.channels_last, args.resume, args.resume_from)
    check_config_checkpoints(cfg)
    prepare_distributed(cfg, args.launcher)
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    run_main(main, 'go on from the last checkpoint with tools/train.py CONFIG --resume')
