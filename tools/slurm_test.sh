#!/usr/bin/env bash
# Testing on a Slurm cluster (MMEngine's 'slurm' launcher), one task per GPU.
#   GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
exec bash "$(dirname "$0")/slurm_launch.sh" test.py "$@"
