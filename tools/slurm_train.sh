#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     [PORT=...] [RDZV_TIMEOUT=900] \
#     bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args]
# GPUS processes in all, GPUS_PER_NODE per node: GPUS / GPUS_PER_NODE nodes.
# srun starts one task per node; each runs tools/dist_train.sh (torchrun)
# with --nnodes / --node_rank from SLURM_NNODES / SLURM_NODEID and the first
# host of the job as MASTER_ADDR. PORT defaults to 29500 + job id % 10000.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
if [ "$GPUS_PER_NODE" -lt 1 ] || [ $((GPUS % GPUS_PER_NODE)) -ne 0 ]; then
    echo "slurm_train.sh: GPUS=$GPUS must be a multiple of" \
        "GPUS_PER_NODE=$GPUS_PER_NODE (processes per node)" >&2
    exit 2
fi
NNODES=$((GPUS / GPUS_PER_NODE))

# Run on each node, inside its srun task, where Slurm's variables are set.
# shellcheck disable=SC2016
NODE_TASK='set -euo pipefail
export NNODES="$SLURM_NNODES" NODE_RANK="$SLURM_NODEID"
# sed, not head, reads the whole list: under pipefail, head closing the
# pipe early would fail the task with SIGPIPE on a long node list.
MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)"
export MASTER_ADDR
export PORT="${PORT:-$((29500 + SLURM_JOB_ID % 10000))}"
exec bash "$@"'

# shellcheck disable=SC2086
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --nodes="$NNODES" \
    --ntasks="$NNODES" \
    --ntasks-per-node=1 \
    --gres=gpu:"$GPUS_PER_NODE" \
    --cpus-per-task=$((CPUS_PER_TASK * GPUS_PER_NODE)) \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    bash -c "$NODE_TASK" slurm_train.sh \
    "$(dirname "$0")/dist_train.sh" "$CONFIG" "$GPUS_PER_NODE" \
    --work-dir="$WORK_DIR" "${@:5}"
