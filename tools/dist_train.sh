#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG GPUS [train.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node;
# GPUS is the number of processes on this node. RDZV_TIMEOUT (seconds,
# default 900) bounds the wait for the other nodes to start.
# Without CUDA the same command runs GPUS processes on the CPU (gloo).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-900}
PYTHON=${PYTHON:-python}

status=0
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    --rdzv_conf=timeout="$RDZV_TIMEOUT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}" || status=$?
if [ "$status" -ne 0 ] && [ "$NNODES" -gt 1 ]; then
    echo "dist_train.sh: node $NODE_RANK of $NNODES stopped with exit" \
        "code $status. A node that did not join within" \
        "RDZV_TIMEOUT=${RDZV_TIMEOUT}s, or that stopped answering for" \
        "env_cfg.dist_cfg.timeout, stops every node; the first error" \
        "above, or the other nodes' logs, name the cause." >&2
fi
exit "$status"
