#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md in one command (random weights, synthetic inputs).
#
#   bash benchmarks/gpu_suite.sh OUT_DIR [STAGE ...]
#
# STAGE: train (the training steps against their baselines), train_compile (the same with
# torch.compile of the mmwsss step), labels (Grounded-SAM, SAM ViT-H), cam (CAM inference over
# 2000 VOC-size images), data (the training data pipelines on this machine's CPU cores, and the
# configs' DataLoaders with 8 workers), crf (CRF pseudo-labels on worker processes against one
# image at a time), precision (the synthetic CAM, SEAM and CLIP + SAM configs trained in fp32
# and in bf16: CAM mIoU side by side; also the check that their bf16 paths run on CUDA);
# default: all seven. Each writes OUT_DIR/<stage>.json and its log; on one
# H100 each stage takes a few minutes (train_compile: plus compilation). Copy the printed
# figures, with date, device and command, into docs/benchmarks.md. On a machine without
# network, benchmarks/gpu_env.sh installs the stack (mmcv with CUDA ops) first.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bash benchmarks/gpu_suite.sh OUT_DIR [train train_compile labels cam data crf precision]}
shift
STAGES=${*:-train train_compile labels cam data crf precision}
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}
mkdir -p "$OUT"
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else
"no CUDA device: the GPU suite needs one (CPU checks: the --tiny runs in tests/test_speed.py)")'
for stage in $STAGES; do
  case $stage in
    train) cmd=(benchmarks/train_throughput.py --device cuda --warmup 3 --windows 3 --steps 4) ;;
    train_compile) cmd=(benchmarks/train_throughput.py --device cuda --compile --warmup 5
                        --windows 3 --steps 4) ;;
    labels) cmd=(benchmarks/label_throughput.py --device cuda --sam-type vit_h --num-images 64
                 --batch-size 16) ;;
    cam) cmd=(benchmarks/cam_inference.py --device cuda --num-images 2000 --batch-size 16) ;;
    data) cmd=(benchmarks/data_throughput.py --num-images 400 --loader --workers 8) ;;
    crf) cmd=(benchmarks/crf_labels.py --device cuda --num-images 400) ;;
    precision)  # the tiny CLIP + SAM config reads a random tiny SAM (docs/methods/clip_sam.md)
      [ -f checkpoints/sam_tiny.pth ] || { mkdir -p checkpoints && "$PY" -c "import torch
from mmwsss.models.sam import build_sam_model
torch.save(build_sam_model('tiny').state_dict(), 'checkpoints/sam_tiny.pth')"; }
      cmd=(benchmarks/precision_cam_miou.py --work-dir "$OUT/precision_runs" --config
                    configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py
                    configs/seam/seam_r18-w16_1xb16-1000it_synthetic-96x96.py
                    configs/clip_sam/clip-sam_tiny_1xb16-1000it_synthetic-96x96.py
                    --cfg-options train_dataloader.num_workers=8 val_dataloader.num_workers=8
                    test_dataloader.num_workers=8) ;;
    *) echo "unknown stage '$stage' (train, train_compile, labels, cam, data, crf, precision)" >&2
       exit 2 ;;
  esac
  echo ">> $stage: python ${cmd[*]}"
  "$PY" "${cmd[@]}" --json "$OUT/$stage.json" 2>&1 | tee "$OUT/$stage.log" \
    | grep -v -i 'warn' || { echo "stage $stage failed: see $OUT/$stage.log" >&2; exit 1; }
done
echo ">> results: $OUT/*.json"
