"""Evaluate a checkpoint: CAM mIoU (threshold sweep) for CAM models, mIoU for segmenters."""
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmwsss.apis.cli import (apply_test_options, check_out_file, load_tool_config, run_main,
                             tool_parser)
from mmwsss.utils import (check_checkpoint, dump_json_atomic, load_trained_checkpoint,
                          prepare_distributed)


def main():
    parser = tool_parser('mmwsss: test a model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the test log')
    parser.add_argument('--out-metrics', help='also write the metrics to this JSON file')
    parser.add_argument('--split', choices=['val', 'train'], default='val',
                        help="'train' evaluates on the config's pseudo_label_dataloader split "
                        '(CAM / pseudo-label quality on train, as WSSS papers report)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model and tta_pipeline "
                        '(segmenters: multi-scale + flip)')
    parser.add_argument('--out', help="write the segmenter's predictions here as label PNGs")
    parser.add_argument('--show-dir', help='write true-mask and prediction overlays here')
    parser.add_argument('--show-interval', type=int, default=1,
                        help='with --show-dir: paint every N-th batch (default: all)')
    args = parser.parse_args()
    cfg = load_tool_config(args, args.work_dir)
    check_out_file(args.out_metrics, '--out-metrics')  # before the run, not after it
    checkpoint = check_checkpoint(args.checkpoint, 'checkpoint to test')
    cfg.load_from, cfg.resume = None, False  # loaded below, whole; nothing else on top
    apply_test_options(cfg, out=args.out, show_dir=args.show_dir, tta=args.tta,
                       show_interval=args.show_interval, split=args.split)
    prepare_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    # every weight of the model from the checkpoint (the Runner's load_from would only warn
    # about missing ones and test random weights)
    load_trained_checkpoint(runner.model, checkpoint, 'checkpoint to test')
    print_log(f'Loaded {checkpoint}', logger='current')
    metrics = runner.test()
    if args.out_metrics:
        dump_json_atomic(metrics, args.out_metrics)


if __name__ == '__main__':
    run_main(main, 'nothing was scored; --out / --show-dir hold the images done so far; run '
                   'the same command again')
