#!/usr/bin/env bash
# Multi-GPU / multi-node testing through torch.distributed (MMEngine's 'pytorch' launcher).
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 bash tools/dist_test.sh CONFIG CKPT 8
PORT=${PORT:-29502} exec bash "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
