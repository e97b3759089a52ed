#!/usr/bin/env bash
# Run a tool on a Slurm cluster through MMEngine's 'slurm' launcher: one task per GPU, each
# task one rank of torch.distributed. The slurm_*.sh scripts call this.
#   GPUS=16 bash tools/slurm_launch.sh TOOL.py PARTITION JOB_NAME [tool args]
# Environment: GPUS (tasks, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS.
set -x
TOOL=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" --job-name="${JOB_NAME}" --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" --ntasks-per-node="${GPUS_PER_NODE}" --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 ${SRUN_ARGS} \
    "${PYTHON}" -u "$(dirname "$0")/${TOOL}" "${@:4}" --launcher=slurm
