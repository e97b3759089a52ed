#!/usr/bin/env bash
# Training on a Slurm cluster (MMEngine's 'slurm' launcher), one task per GPU.
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args]
exec bash "$(dirname "$0")/slurm_launch.sh" train.py "$@"
