#!/usr/bin/env bash
# The built-in demo on the synthetic set (2 CPU cores, about 9 min): CAM baseline → CAM mIoU →
# pseudo-labels (+overlays) → DeepLab-v2 on pseudo-labels and on true masks → one table.
# Every step is a command a user would run; re-running resumes finished steps.
#   bash tools/demo.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(realpath -m "${1:-work_dirs/demo}")
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
DATA=data/synthetic_voc
CAM_CFG=configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py
SEG_GT_CFG=configs/deeplabv2/deeplabv2_r18-w16_1xb16-1000it_synthetic-gt-96x96.py
SEG_PL_CFG=configs/deeplabv2/deeplabv2_r18-w16_1xb16-1000it_synthetic-pseudo-96x96.py
mkdir -p "$WORK"
step() { echo; echo "==== $* ===="; }
last_ckpt() { cat "$1/last_checkpoint"; }

step "1/7 synthetic dataset"
$PY tools/make_synthetic_voc.py --out $DATA

step "2/7 train the CAM baseline"
$PY tools/train.py $CAM_CFG --work-dir "$WORK/cam" --resume
CAM_CKPT=$(last_ckpt "$WORK/cam")

step "3/7 CAM mIoU on train_aug (background-threshold sweep)"
$PY tools/test.py $CAM_CFG "$CAM_CKPT" --work-dir "$WORK/cam" --split train \
    --out-metrics "$WORK/cam_metrics.json"

step "4/7 pseudo-labels at the best threshold, overlays, pseudo-label mIoU"
$PY tools/make_pseudo_labels.py $CAM_CFG "$CAM_CKPT" --out "$WORK/pseudo_labels" \
    --metrics "$WORK/cam_metrics.json" --overlay-dir "$WORK/overlays" --num-overlays 12
$PY tools/eval_labels.py $CAM_CFG "$WORK/pseudo_labels" --out-metrics "$WORK/pseudo_metrics.json"

step "5/7 DeepLab-v2 on the pseudo-labels"
$PY tools/train.py $SEG_PL_CFG --work-dir "$WORK/seg_pseudo" --resume \
    --cfg-options train_dataloader.dataset.data_prefix.seg_map_path="$WORK/pseudo_labels"
$PY tools/test.py $SEG_PL_CFG "$(last_ckpt "$WORK/seg_pseudo")" --work-dir "$WORK/seg_pseudo" \
    --out-metrics "$WORK/seg_pseudo_metrics.json"

step "6/7 the same DeepLab-v2 on the true masks (fully-supervised reference)"
$PY tools/train.py $SEG_GT_CFG --work-dir "$WORK/seg_gt" --resume
$PY tools/test.py $SEG_GT_CFG "$(last_ckpt "$WORK/seg_gt")" --work-dir "$WORK/seg_gt" \
    --out-metrics "$WORK/seg_gt_metrics.json"

step "7/7 results"
$PY tools/summarize_demo.py "$WORK"
