"""Train a CAM model or an mmseg segmenter from a config (MMEngine Runner)."""
from mmengine.runner import Runner

from mmwsss.apis.cli import load_tool_config, tool_parser
from mmwsss.utils import check_config_checkpoints, prepare_distributed


def main():
    parser = tool_parser('mmwsss: train a model')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision (AmpOptimWrapper)')
    args = parser.parse_args()
    cfg = load_tool_config(args, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    cfg.resume = args.resume
    check_config_checkpoints(cfg)
    prepare_distributed(cfg, args.launcher)
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
