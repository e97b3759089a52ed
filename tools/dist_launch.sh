#!/usr/bin/env bash
# Run a tool on GPUS processes per node through torch.distributed (MMEngine's 'pytorch'
# launcher). The dist_*.sh scripts call this.
#   bash tools/dist_launch.sh TOOL.py GPUS [tool args]
# Multi-node: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host0 on each node; PORT, PYTHON.
TOOL=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/$TOOL" "${@:3}" --launcher pytorch
