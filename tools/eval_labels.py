"""mIoU of a label folder (pseudo-labels) against the masks of a config's dataset split.

    python tools/eval_labels.py CONFIG LABEL_DIR [--out-metrics M.json]

The split is the config's ``pseudo_label_dataloader`` dataset (train, as WSSS papers report).
"""
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from mmwsss.apis.cli import check_out_file, load_tool_config, require_masks, run_main, tool_parser
from mmwsss.evaluation import evaluate_label_dir
from mmwsss.registry import DATASETS
from mmwsss.utils import dump_json_atomic


def main():
    parser = tool_parser('mmwsss: evaluate a label folder', launcher=False)
    parser.add_argument('label_dir')
    parser.add_argument('--out-metrics', help='write the metrics to this JSON file')
    parser.add_argument('--allow-missing', action='store_true',
                        help='count missing labels as unlabelled instead of failing')
    args = parser.parse_args()
    cfg = load_tool_config(args)
    check_out_file(args.out_metrics, '--out-metrics')  # before the evaluation, not after it
    MMLogger.get_instance('mmwsss', log_level='INFO')
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    dataset = DATASETS.build(require_masks(cfg.pseudo_label_dataloader.dataset))
    res = evaluate_label_dir(args.label_dir, dataset, allow_missing=args.allow_missing)
    print(f'mIoU {res["mIoU"]:.2f}  boundary F {res["mBF"]:.2f}  aAcc {res["aAcc"]:.2f}  '
          f'labelled {res["labelled"]:.2f}%')
    if args.out_metrics:
        dump_json_atomic({k: v for k, v in res.items() if k != 'table'}, args.out_metrics)


if __name__ == '__main__':
    run_main(main, 'nothing was written; run the same command again')
