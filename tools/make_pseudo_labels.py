"""Write pseudo-labels (one palette PNG per image) with the config's label generator.

    python tools/make_pseudo_labels.py CONFIG CKPT --out DIR [--bg-threshold T | --metrics M]

Re-running skips images whose PNG exists; failures are listed in DIR/report.json, and the
exit status is 1 when any image failed (all others are written). One job per output folder:
a run clears the temp files an interrupted run left there.
Multi-GPU / multi-node: tools/dist_pseudo_labels.sh (one shard of images per rank).
"""
import os.path as osp
import sys

from mmengine.dist import get_dist_info
from mmengine.logging import MMLogger

from mmwsss.apis import apply_label_options, generate_pseudo_labels
from mmwsss.apis.cli import load_tool_config, run_main, tool_parser
from mmwsss.utils import init_distributed


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


def main():
    args = parse_args()
    cfg = load_tool_config(args)
    init_distributed(args.launcher, args.backend)
    MMLogger.get_instance('mmwsss', log_level='INFO')
    gen = apply_label_options(cfg.label_generator, args.checkpoint, args.bg_threshold,
                              args.metrics, args.crf)
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
    # labelling, it says what it wrote; this line covers a Ctrl-C before (building, checks)
    run_main(main, 'the labels written are kept; run the same command again to label the rest')
