#!/usr/bin/env bash
# One-GPU check of mmpha, under 8 minutes: install as the README does, run
# the CUDA tests, train PHA ViT-B/16 on SynthReID for a few hundred AMP
# iterations (loss must fall, no NaN), run the training-step and inference
# benchmarks on CUDA, and write every figure to one results file.
# `--dry-run` runs the same steps at toy size on the CPU.

set -uo pipefail

usage() {
    cat <<'EOF'
Usage: tools/misc/gpu_check.sh [--dry-run] [--no-install] [--out DIR]
                               [--work-dir DIR] [--train-iters N]
                               [--speed | --speed-only]
                               [--speed-compile "off on"]

Checks mmpha on one CUDA GPU in under 8 minutes and writes every figure to
DIR/gpu_check_results.txt (DIR defaults to $OUT, else work_dirs/gpu_check):

  1. install      pip install -e ".[tests]" (as the README does)
  2. cuda tests   python -m pytest -m cuda tests
  3. train        PHA ViT-B/16 (random init) on SynthReID at 256x128,
                  batch 64, N AMP iterations (default 300) with
                  tools/train.py --amp; the loss must fall and stay finite
  4. benchmarks   tools/analysis_tools/benchmark_train.py (TransReID vs PHA,
                  Market-1501 configs, batch 64, --amp) and
                  tools/analysis_tools/benchmark_inference.py (both configs)

Options:
  --dry-run, --cpu   the same steps at toy size on the CPU: the tiny
                     SynthReID configs, 20 iterations, the CUDA tests run on
                     the CPU (MMPHA_CUDA_TEST_DEVICE=cpu); no install unless
                     --install is given
  --install          install even with --dry-run
  --no-install       skip step 1 (mmpha already installed)
  --out DIR          where the results file and the logs go
  --work-dir DIR     scratch space for the training run (default: a
                     temporary folder; it holds a ViT-B checkpoint)
  --train-iters N    training iterations (default 300; 20 with --dry-run)
  --speed            also run the speed matrix (step 5, after the time limit
                     of steps 1-4): benchmark_train.py for TransReID and PHA
                     at batch 64, 256x128, ViT-B/16 stride 12, in fp16 and
                     bf16 AMP, torch.compile off and on; steps/s, images/s
                     and the time share of every stage of each go to the
                     results file (with --dry-run: the tiny configs in fp32
                     on the CPU, compile with the aot_eager backend)
  --speed-only       run only the speed matrix
  --speed-compile L  compile settings of the matrix (default "off on")
  -h, --help         this help

Environment: PYTHON (default python). Exit status: 0 when every step
passed, 1 otherwise.
EOF
}

MODE=gpu
INSTALL=auto
OUT_DIR=${OUT:-work_dirs/gpu_check}
WORK_DIR=""
TRAIN_ITERS=""
PYTHON=${PYTHON:-python}
SPEED=0
SPEED_COMPILE="off on"

while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --dry-run | --cpu) MODE=cpu; shift ;;
        --install) INSTALL=1; shift ;;
        --no-install) INSTALL=0; shift ;;
        --out) OUT_DIR=$2; shift 2 ;;
        --work-dir) WORK_DIR=$2; shift 2 ;;
        --train-iters) TRAIN_ITERS=$2; shift 2 ;;
        --speed) SPEED=1; shift ;;
        --speed-only) SPEED=2; INSTALL=0; shift ;;
        --speed-compile) SPEED_COMPILE=$2; shift 2 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO" || exit 1
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
if [[ -z "$WORK_DIR" ]]; then
    WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mmpha_gpu_check.XXXXXX")
fi
mkdir -p "$WORK_DIR"
RESULTS="$OUT_DIR/gpu_check_results.txt"
: >"$RESULTS"

TRANSREID_CFG=configs/transreid/transreid_vit-base-p16-s12_in1k-pre_1xb64-16x4_120e_market1501-256x128.py
PHA_CFG=configs/pha/pha_vit-base-p16-s12_in1k-pre_1xb48-12x4_120e_market1501-256x128.py
PHA_SYNTH_CFG=configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py
TRANSREID_SYNTH_CFG=configs/transreid/transreid_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py

if [[ $MODE == gpu ]]; then
    [[ $INSTALL == auto ]] && INSTALL=1
    DEVICE=cuda
    TRAIN_ITERS=${TRAIN_ITERS:-300}
    TRAIN_ARCH="'base'"
    IMG_H=256; IMG_W=128; PAD=10
    TRAIN_BATCH=64
    LOG_INTERVAL=10
    AMP_FLAG=--amp
    NPROC=8
    # The released Market-1501 configs; data is not read by the benchmarks.
    BENCH_A=$TRANSREID_CFG; BENCH_B=$PHA_CFG
    BENCH_TRAIN_ARGS=(--batch-size 64 --iters 20 --warmup 5 --device cuda --amp)
    BENCH_INFER_ARGS=(--batch-size 64 --iters 50 --warmup 10 --device cuda --amp)
    TEST_ENV=()
    SPEED_DTYPES="float16 bfloat16"
    SPEED_ARGS=(--batch-size 64 --iters 20 --warmup 10 --device cuda)
    COMPILE_ARG=--compile
else
    [[ $INSTALL == auto ]] && INSTALL=0
    DEVICE=cpu
    TRAIN_ITERS=${TRAIN_ITERS:-20}
    TRAIN_ARCH="dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=256)"
    IMG_H=128; IMG_W=64; PAD=5
    TRAIN_BATCH=16
    LOG_INTERVAL=2
    AMP_FLAG=""
    NPROC=2
    BENCH_A=$TRANSREID_SYNTH_CFG; BENCH_B=$PHA_SYNTH_CFG
    BENCH_TRAIN_ARGS=(--batch-size 8 --iters 2 --warmup 1 --device cpu)
    BENCH_INFER_ARGS=(--batch-size 8 --iters 3 --warmup 1 --device cpu)
    TEST_ENV=(MMPHA_CUDA_TEST_DEVICE=cpu)
    SPEED_DTYPES="fp32"
    SPEED_ARGS=(--batch-size 8 --iters 2 --warmup 1 --device cpu)
    COMPILE_ARG=--compile=aot_eager
fi

FAILED=0
START_ALL=$(date +%s)

say() { echo "$*" | tee -a "$RESULTS"; }

# run_step NAME LOG CMD...: run a step, log its output, record time and status.
run_step() {
    local name=$1 log=$2
    shift 2
    local start rc
    start=$(date +%s)
    echo "== $name: $*" >&2
    "$@" >"$OUT_DIR/$log" 2>&1
    rc=$?
    STEP_SECONDS=$(($(date +%s) - start))
    if [[ $rc -ne 0 ]]; then
        FAILED=1
        say "[$name] FAILED (exit $rc, ${STEP_SECONDS} s); see $log"
        tail -n 20 "$OUT_DIR/$log" >&2
    fi
    return $rc
}

say "# mmpha GPU check ($MODE mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"

# 5. speed matrix: steps/s, images/s and stage shares per dtype and compile.
speed_matrix() {
    local dt c args log json
    for dt in $SPEED_DTYPES; do
        for c in $SPEED_COMPILE; do
            args=("${SPEED_ARGS[@]}")
            [[ $dt != fp32 ]] && args+=(--amp --amp-dtype "$dt")
            [[ $c == on ]] && args+=("$COMPILE_ARG")
            log="speed_${dt}_compile-${c}.log"
            json="$OUT_DIR/speed_${dt}_compile-${c}.json"
            if run_step "speed $dt compile $c" "$log" "$PYTHON" \
                tools/analysis_tools/benchmark_train.py "$BENCH_A" "$BENCH_B" \
                "${args[@]}" --json-out "$json"; then
                "$PYTHON" - "$json" "$dt" "$c" "$STEP_SECONDS" >>"$RESULTS" <<'EOF'
import json
import sys

path, dtype, compiled, seconds = sys.argv[1:]
with open(path) as f:
    out = json.load(f)
tag = f'[speed {dtype} compile {compiled}]'
for key, name in (('A', 'TransReID'), ('B', 'PHA')):
    res = out[key]
    steps = 1e3 / res['median_ms']
    h, w = res['img_size']
    print(f'{tag} {name}: {steps:.3f} steps/s, '
          f'{steps * res["batch_size"]:.1f} images/s (batch '
          f'{res["batch_size"]}, {h}x{w}, median {res["median_ms"]:.1f} ms, '
          f'peak {res["peak_mib"]:.0f} MiB {res["memory_kind"]})')
    parts = dict(out[f'breakdown_{key}'])
    total = parts.pop('step')
    shares = ', '.join(f'{label} {100 * value / total:.1f}%'
                       for label, value in parts.items())
    print(f'{tag} {name} stage shares: {shares}')
print(f'{tag} ratio PHA/TransReID {out["ratio"]:.3f}, frequency share '
      f'{out["frequency_share"]:.2f}% ({seconds} s)')
EOF
            fi
        done
    done
}

# 1. install -----------------------------------------------------------------
if [[ $INSTALL == 1 ]]; then
    if run_step install install.log "$PYTHON" -m pip install -e ".[tests]"; then
        say "[install] pip install -e \".[tests]\": ok (${STEP_SECONDS} s)"
    fi
else
    say "[install] skipped"
fi

ENV_INFO=$("$PYTHON" - <<'EOF' 2>&1
import torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'
print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, GPU: {gpu}')
EOF
)
say "environment: $ENV_INFO"
if [[ $MODE == gpu ]] && ! "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    say "no CUDA device is visible: run with --dry-run for the CPU check"
    exit 1
fi

if [[ $SPEED == 2 ]]; then
    speed_matrix
    if [[ $FAILED -eq 0 ]]; then say "status: PASS"; else say "status: FAIL"; fi
    echo "results: $RESULTS" >&2
    exit $FAILED
fi

# 2. CUDA tests -----------------------------------------------------------
if run_step "cuda tests" cuda_tests.log env "${TEST_ENV[@]}" "$PYTHON" -m pytest -m cuda tests -q -p no:cacheprovider; then
    say "[cuda tests] $(tail -n 1 "$OUT_DIR/cuda_tests.log") (${STEP_SECONDS} s)"
fi

# 3. train PHA on SynthReID --------------------------------------------------
TRAIN_CFG="$WORK_DIR/gpu_check_pha_synthreid.py"
cat >"$TRAIN_CFG" <<EOF
# Written by tools/misc/gpu_check.sh: PHA from random weights on SynthReID,
# ${TRAIN_ITERS} iterations of ${TRAIN_BATCH} images at ${IMG_H}x${IMG_W}.
_base_ = ['$REPO/$PHA_SYNTH_CFG']

model = dict(
    backbone=dict(
        arch=${TRAIN_ARCH},
        img_size=(${IMG_H}, ${IMG_W}),
        drop_path_rate=0.1,
        init_cfg=None))

train_pipeline = [
    dict(type='LoadReIDImage'),
    dict(type='Resize', scale=(${IMG_W}, ${IMG_H}), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(${IMG_H}, ${IMG_W}), padding=${PAD}, pad_val=0),
    dict(type='RandomErasing', erase_prob=0.5, min_area_ratio=0.02,
         max_area_ratio=1 / 3, mode='rand', fill_color=(127.5, 127.5, 127.5),
         fill_std=(127.5, 127.5, 127.5)),
    dict(type='PackReIDInputs'),
]
test_pipeline = [
    dict(type='LoadReIDImage'),
    dict(type='Resize', scale=(${IMG_W}, ${IMG_H}), interpolation='bicubic'),
    dict(type='PackReIDInputs'),
]
synth = dict(type='SynthReID', data_root='$REPO/data/synthreid', auto_generate=True,
             nproc=${NPROC})
train_dataloader = dict(
    batch_size=${TRAIN_BATCH},
    num_workers=${NPROC},
    batch_sampler=dict(num_instances=4),
    dataset=dict(synth, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=${NPROC},
    dataset=dict(datasets=[
        dict(synth, split='query', pipeline=test_pipeline),
        dict(synth, split='gallery', pipeline=test_pipeline),
    ]))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=${TRAIN_ITERS} // 10),
    dict(type='CosineAnnealingLR', T_max=${TRAIN_ITERS}, eta_min_ratio=0.01,
         by_epoch=False, begin=0, end=${TRAIN_ITERS}),
]
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=${TRAIN_ITERS},
    val_interval=${TRAIN_ITERS})
default_hooks = dict(
    logger=dict(interval=${LOG_INTERVAL}),
    checkpoint=dict(by_epoch=False, interval=${TRAIN_ITERS}, max_keep_ckpts=1,
                    save_best=None))
log_processor = dict(by_epoch=False, window_size=${LOG_INTERVAL})
EOF

if run_step train train.log "$PYTHON" tools/train.py "$TRAIN_CFG" --work-dir "$WORK_DIR/train" $AMP_FLAG; then
    TRAIN_SECONDS=$STEP_SECONDS
    if ! "$PYTHON" - "$WORK_DIR/train" "$OUT_DIR/train.log" "$TRAIN_ITERS" \
        "$TRAIN_BATCH" "${IMG_H}x${IMG_W}" "$TRAIN_SECONDS" "$MODE" >>"$RESULTS" <<'EOF'
import glob
import json
import math
import re
import statistics
import sys

work, log, iters, batch, size, seconds, mode = sys.argv[1:]
files = sorted(glob.glob(f'{work}/*/vis_data/scalars.json'))
records = []
with open(files[-1]) as f:
    records = [json.loads(line) for line in f if line.strip()]
train = [r for r in records if 'loss' in r]
losses = [r['loss'] for r in train]
finite = all(math.isfinite(v) for r in train for k, v in r.items()
             if k.startswith('loss'))
head, tail = losses[:3], losses[-3:]
falling = statistics.mean(tail) < statistics.mean(head)
what = ('PHA ViT-B/16 (random init), AMP' if mode == 'gpu' else
        'PHA tiny ViT (random init), fp32')
line = (f'[train] {what}, SynthReID {size}, batch {batch}, {iters} '
        f'iterations: loss {statistics.mean(head):.3f} -> '
        f'{statistics.mean(tail):.3f} '
        f'({"falling" if falling else "NOT FALLING"}), '
        f'{"all terms finite" if finite else "NON-FINITE TERMS"}; '
        f'median {statistics.median(r["time"] for r in train):.3f} s/iter')
memory = [r['memory'] for r in train if 'memory' in r]
if memory:
    line += f', max memory {max(memory)} MiB'
with open(log) as f:
    final = re.findall(r'Final evaluation.*', f.read())
if final:
    line += f'; {final[-1]}'
print(line + f' ({seconds} s)')
sys.exit(0 if finite and falling else 1)
EOF
    then
        FAILED=1
    fi
    tail -n 1 "$RESULTS" >&2
fi

# 4. benchmarks -------------------------------------------------------------
if run_step benchmark_train bench_train.log "$PYTHON" tools/analysis_tools/benchmark_train.py \
    "$BENCH_A" "$BENCH_B" "${BENCH_TRAIN_ARGS[@]}" --json-out "$OUT_DIR/bench_train.json"; then
    "$PYTHON" - "$OUT_DIR/bench_train.json" "${BENCH_TRAIN_ARGS[*]}" "$STEP_SECONDS" >>"$RESULTS" <<'EOF'
import json
import sys

path, args, seconds = sys.argv[1:]
with open(path) as f:
    res = json.load(f)
a, b = res['A'], res['B']
unit = 'MiB ' + a['memory_kind']
print(f'[benchmark_train] {args}: TransReID {a["median_ms"]:.1f} ms/step, '
      f'PHA {b["median_ms"]:.1f} ms/step, ratio B/A {res["ratio"]:.3f}; '
      f'frequency share {res["frequency_share"]:.2f}%; peak memory '
      f'{a["peak_mib"]:.0f} / {b["peak_mib"]:.0f} {unit} ({seconds} s)')
parts = res['breakdown_B']
step = parts.pop('step')
print('  PHA step split: ' + ', '.join(
    f'{k} {v:.1f} ms ({100 * v / step:.1f}%)' for k, v in parts.items()))
EOF
fi

: >"$OUT_DIR/bench_inference.log"
INFER_LINE="[benchmark_inference] ${BENCH_INFER_ARGS[*]}:"
for cfg in "$BENCH_A" "$BENCH_B"; do
    if run_step benchmark_inference bench_inference.part.log "$PYTHON" \
        tools/analysis_tools/benchmark_inference.py "$cfg" "${BENCH_INFER_ARGS[@]}"; then
        ips=$(grep -o 'images/s: [0-9.]*' "$OUT_DIR/bench_inference.part.log" | tail -n 1)
        INFER_LINE="$INFER_LINE $(basename "$cfg" .py) $ips;"
    fi
    cat "$OUT_DIR/bench_inference.part.log" >>"$OUT_DIR/bench_inference.log"
done
rm -f "$OUT_DIR/bench_inference.part.log"
say "$INFER_LINE"

TOTAL=$(($(date +%s) - START_ALL))
LIMIT=480
say "total: ${TOTAL} s (limit ${LIMIT} s on a GPU)"
[[ $SPEED == 1 ]] && speed_matrix
if [[ $MODE == gpu && $TOTAL -gt $LIMIT ]]; then
    say "over the time limit"
    FAILED=1
fi
if [[ $FAILED -eq 0 ]]; then say "status: PASS"; else say "status: FAIL"; fi
echo "results: $RESULTS" >&2
exit $FAILED
