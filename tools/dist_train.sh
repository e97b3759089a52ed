#!/usr/bin/env bash
# Multi-GPU / multi-node training through torch.distributed (MMEngine's 'pytorch' launcher).
#   bash tools/dist_train.sh CONFIG GPUS [train.py args]
# Multi-node: NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 bash tools/dist_train.sh CONFIG 8
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
