#!/usr/bin/env bash
# Pseudo-labels on several GPUs / nodes: each rank labels its own shard of images and writes
# its own files; re-running resumes. Same arguments as make_pseudo_labels.py after GPUS.
#   bash tools/dist_pseudo_labels.sh CONFIG GPUS [CKPT] --out DIR
PORT=${PORT:-29501} exec bash "$(dirname "$0")/dist_launch.sh" make_pseudo_labels.py "$2" "$1" \
    "${@:3}"
