#!/usr/bin/env bash
# Pseudo-labels on a Slurm cluster: each task (one per GPU) labels its own shard of images and
# writes its own files; re-running resumes. Same arguments as make_pseudo_labels.py.
#   GPUS=16 bash tools/slurm_pseudo_labels.sh PARTITION JOB_NAME CONFIG [CKPT] --out DIR
exec bash "$(dirname "$0")/slurm_launch.sh" make_pseudo_labels.py "$@"
