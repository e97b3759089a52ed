"""Train a CAM model or an mmseg segmenter from a config (MMEngine Runner)."""
import argparse

from mmengine.runner import Runner

from mmwsss.apis.cli import add_interrupt_checkpoint, load_tool_config, run_main, tool_parser
from mmwsss.apis.precision import PRECISIONS, apply_training_precision
from mmwsss.utils import check_config_checkpoints, prepare_distributed, resume_checkpoint


def main():
    parser = tool_parser('mmwsss: train a model')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir (if any)')
    parser.add_argument('--resume-from', metavar='CHECKPOINT',
                        help='resume from this checkpoint')
    parser.add_argument('--precision', choices=PRECISIONS,
                        help="override the config's train_precision (GPU configs: bf16)")
    parser.add_argument('--amp', action='store_true', help='same as --precision bf16')
    parser.add_argument('--channels-last', action=argparse.BooleanOptionalAction,
                        help="override the config's channels_last switch")
    args = parser.parse_args()
    cfg = load_tool_config(args, args.work_dir)
    if args.precision or args.amp:
        cfg.train_precision = args.precision or 'bf16'
    if args.channels_last is not None:
        cfg.channels_last = args.channels_last
    apply_training_precision(cfg)
    if args.resume or args.resume_from:
        checkpoint = resume_checkpoint(cfg.work_dir, args.resume_from or 'auto')
        if checkpoint:  # none yet: a fresh start, from the config's load_from if it has one
            cfg.resume, cfg.load_from = True, checkpoint
    check_config_checkpoints(cfg)
    prepare_distributed(cfg, args.launcher)
    add_interrupt_checkpoint(cfg)
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    run_main(main, 'go on from the last checkpoint with tools/train.py CONFIG --resume')
