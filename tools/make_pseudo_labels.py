"""Write pseudo-labels (one palette PNG per image) with the config's label generator.

    python tools/make_pseudo_labels.py CONFIG CKPT --out DIR [--bg-threshold T | --metrics M]

Re-running skips images whose PNG exists; failures are listed in DIR/report.json, and the
exit status is 1 when any image failed (all others are written). One job per output folder:
a run clears the temp files an interrupted run left there.
Multi-GPU / multi-node: tools/dist_pseudo_labels.sh (one shard of images per rank).
"""
import os.path as osp
import sys
import warnings

from mmengine.dist import get_dist_info
from mmengine.logging import MMLogger

from mmwsss.apis import generate_pseudo_labels
from mmwsss.apis.cli import load_tool_config, run_main, tool_parser
from mmwsss.utils import init_distributed, load_json


def parse_args():
    parser = tool_parser('mmwsss: make pseudo-labels')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='model checkpoint for generators that need one (CAM)')
    parser.add_argument('--out', required=True, help='output label folder')
    parser.add_argument('--bg-threshold', type=float, help='override the background threshold')
    parser.add_argument('--metrics', help="JSON from tools/test.py --out-metrics: use its best "
                        "'bg_threshold'")
    parser.add_argument('--overlay-dir', help='write CAM heatmaps and label overlays here')
    parser.add_argument('--num-overlays', type=int, default=8)
    parser.add_argument('--batch-size', type=int,
                        help="images per batch (default: the config's pseudo_label_dataloader)")
    parser.add_argument('--num-workers', type=int,
                        help="loader processes (default: the config's pseudo_label_dataloader)")
    parser.add_argument('--crf', action='store_true', help='refine with a dense CRF')
    parser.add_argument('--backend', default=None, help="torch.distributed backend with CUDA "
                        "(default nccl; without CUDA it is gloo)")
    # intermixed: the optional CKPT may follow options (dist_pseudo_labels.sh adds --launcher)
    return parser.parse_intermixed_args()


def check_options_apply(gen_cfg, **given) -> None:
    """Options that set a parameter the config's generator does not have are an error naming
    them (e.g. a background threshold for Grounded-SAM, whose thresholds are on boxes)."""
    import inspect

    from mmwsss.registry import LABEL_GENERATORS
    cls = LABEL_GENERATORS.get(gen_cfg['type'])
    if cls is None:
        return
    params = inspect.signature(cls.__init__).parameters
    flags = dict(checkpoint='CKPT', bg_threshold='--bg-threshold / --metrics', crf='--crf')
    wrong = [flags[k] for k, v in given.items() if v is not None and k not in params]
    if wrong:
        raise ValueError(f'{", ".join(wrong)}: {cls.__name__} has no such setting; see its '
                         'label_generator in the config for what it takes')


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    init_distributed(args.launcher, args.backend)
    MMLogger.get_instance('mmwsss', log_level='INFO')
    gen = cfg.label_generator
    check_options_apply(gen, checkpoint=args.checkpoint, bg_threshold=(
        args.bg_threshold if args.metrics is None else args.metrics), crf=args.crf or None)
    if args.checkpoint:
        gen.checkpoint = args.checkpoint
    if args.metrics:
        metrics = load_json(args.metrics, '--metrics', 'write it with tools/test.py '
                            '--out-metrics')
        if 'bg_threshold' not in metrics:
            raise KeyError(f"{args.metrics} has no 'bg_threshold' (write it with tools/test.py "
                           '--out-metrics on a CAM config, or give --bg-threshold)')
        gen.bg_threshold = float(metrics['bg_threshold'])
    if args.bg_threshold is not None:
        if not 0 <= args.bg_threshold <= 1:
            raise ValueError(f'--bg-threshold {args.bg_threshold}: CAMs are normalised to '
                             '0..1, so the threshold lies in 0..1')
        gen.bg_threshold = args.bg_threshold
    if args.crf:
        gen.crf = gen.get('crf') or dict()
        if args.metrics or args.bg_threshold is not None:
            warnings.warn('--crf labels with the CRF background (1 - max CAM) ** alpha; the '
                          'background threshold of --metrics / --bg-threshold is not used')
    loader = cfg.pseudo_label_dataloader
    report = generate_pseudo_labels(
        cfg, args.out, gen, batch_size=args.batch_size or loader.get('batch_size', 1),
        num_workers=(args.num_workers if args.num_workers is not None else
                     loader.get('num_workers', 2)),
        overlay_dir=args.overlay_dir, num_overlays=args.num_overlays)
    # rank 0 holds the merged report; it alone exits 1, after report.json is written (a rank
    # exiting early could get rank 0 killed by the launcher before it merges)
    if get_dist_info()[0] == 0 and report['failed']:
        sys.exit(f"{report['failed']} images could not be labelled (listed in "
                 f'{osp.join(args.out, "report.json")}); fix them and run the same command '
                 'again: it labels only what is missing')


if __name__ == '__main__':
    run_main(main)  # on Ctrl-C the run says what it wrote and how to go on
