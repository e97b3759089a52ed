#!/usr/bin/env bash
# Pseudo-labels on several GPUs / nodes: each rank labels its own shard of images and writes
# its own files; re-running resumes. Same arguments as make_pseudo_labels.py after GPUS.
#   bash tools/dist_pseudo_labels.sh CONFIG GPUS [CKPT] --out DIR
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29501}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/make_pseudo_labels.py" "$CONFIG" "${@:3}" --launcher pytorch
