"""Compare the training-step cost of two configs (e.g. TransReID and PHA).

Both models are built with random weights (no pretrained loading) and
trained on one fixed synthetic P x K batch at the configs' input size. Each
config runs in its own child process, so that the peak memory of one does
not hide in the other's. For each model the tool prints the median time of a
full training step (forward with every loss, backward, SGD update), the peak
memory (CUDA max allocated, or peak RSS on CPU) and the split of a step into
frequency work (PHA's neck), backbone (patch embedding + first L - 1 blocks,
forward and backward), heads and losses, and the optimiser. The last two
lines are ``frequency share: <pct>%`` (of B's step) and
``ratio B/A: <number>``. On a machine shared with other work,
``--interleave`` alternates the steps of A and B in one process so that both
see the same load (no peak memory then).

Examples:
    python tools/analysis_tools/benchmark_train.py \\
        configs/transreid/CONFIG.py configs/pha/CONFIG.py \\
        --batch-size 16 --iters 3 --device cpu
    python tools/analysis_tools/benchmark_train.py A.py B.py \\
        --batch-size 64 --device cuda --amp --json-out bench.json
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

import torch
from mmengine.config import Config, DictAction

import mmpha  # noqa: F401,I001
from mmpha.apis.benchmark import (benchmark_train_pair, benchmark_train_step,
                                  stage_breakdown)
from mmpha.utils import register_all_modules


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Time training steps of two re-ID configs (A, then B) '
        'and print the ratio B/A')
    parser.add_argument('config_a', help='config A (e.g. TransReID)')
    parser.add_argument('config_b', help='config B (e.g. PHA)')
    parser.add_argument(
        '--batch-size', type=int, default=16, help='B = P x K (default 16)')
    parser.add_argument(
        '--num-instances',
        type=int,
        default=4,
        help='K, images per identity (default 4)')
    parser.add_argument(
        '--iters', type=int, default=3, help='timed steps (default 3)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed steps before timing (default 1)')
    parser.add_argument(
        '--profile-iters',
        type=int,
        default=None,
        help='extra steps for the stage split; default: the timed steps '
        'themselves on CPU, --iters extra steps on CUDA')
    parser.add_argument(
        '--device',
        choices=['cpu', 'cuda'],
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='device (default: cuda when available)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision (AmpOptimWrapper, float16); CUDA only')
    parser.add_argument(
        '--input-size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help="input size (default: the model config's img_size)")
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of weights and batch')
    parser.add_argument(
        '--threads',
        type=int,
        help='CPU threads of torch (default: torch\'s choice); 1 makes the '
        'CPU time a clean measure of the work on a shared machine')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of both configs, key=value pairs')
    parser.add_argument(
        '--json-out', help='also write every figure to this JSON file')
    parser.add_argument(
        '--in-process',
        action='store_true',
        help='run both configs in this process (the peak RSS of B then '
        'includes A\'s)')
    parser.add_argument(
        '--interleave',
        action='store_true',
        help='alternate the steps of A and B in this process, so that both '
        'see the same load on a shared machine (a fairer ratio there); no '
        'peak memory is reported')
    # Internal: run one config and write its figures to a file.
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default=None,
        help='autocast dtype of --amp (default float16)')
    parser.add_argument(
        '--compile',
        nargs='?',
        const=True,
        default=False,
        metavar='BACKEND',
        help='torch.compile the training step, as cfg.compile does in '
        'training; optionally name the backend (e.g. aot_eager)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--result-file', help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.batch_size % args.num_instances != 0:
        parser.error(f'--batch-size {args.batch_size} is not a multiple of '
                     f'--num-instances {args.num_instances}')
    if args.amp and args.device != 'cuda':
        parser.error('--amp needs --device cuda')
    if args.amp_dtype is not None and not args.amp:
        parser.error(f'--amp-dtype {args.amp_dtype} needs --amp')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    return args


def _load(config: str, args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def _settings(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(
        batch_size=args.batch_size,
        num_instances=args.num_instances,
        iters=args.iters,
        warmup=args.warmup,
        device=args.device,
        amp=args.amp,
        amp_dtype=args.amp_dtype,
        compile=args.compile,
        profile_iters=args.profile_iters,
        img_size=args.input_size,
        seed=args.seed)


def run_one(config: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Benchmark one config in this process."""
    register_all_modules(init_default_scope=True)
    return benchmark_train_step(_load(config, args), **_settings(args))


def run_interleaved(args: argparse.Namespace) -> Dict[str, Dict[str, Any]]:
    """Benchmark both configs in this process, alternating their steps."""
    register_all_modules(init_default_scope=True)
    res_a, res_b = benchmark_train_pair(
        _load(args.config_a, args), _load(args.config_b, args),
        **_settings(args))
    return dict(A=res_a, B=res_b)


def run_child(config: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Benchmark one config in a child process and return its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        result_file = osp.join(tmp, 'result.json')
        # The child gets the same command line, so every option (the
        # --cfg-options above all) reaches it exactly as typed.
        cmd = [sys.executable, osp.abspath(__file__)] + list(
            args.argv) + ['--worker', config, '--result-file', result_file]
        proc = subprocess.run(cmd, stdout=sys.stderr)
        if proc.returncode != 0:
            raise SystemExit(f'benchmarking {config} failed (exit code '
                             f'{proc.returncode}); see the messages above')
        with open(result_file) as f:
            return json.load(f)


def report(name: str, result: Dict[str, Any]) -> None:
    """Print the figures of one config."""
    h, w = result['img_size']
    bsz, k = result['batch_size'], result['num_instances']
    step = result['step_ms']
    print(f'[{name}] {result["config"]}')
    print(f'  params {result["params_m"]:.2f} M, input {h}x{w}, batch {bsz} '
          f'({bsz // k} ids x {k}), {result["device"]}'
          f'{" AMP" if result["amp"] else ""}, '
          f'{result["threads"]} threads')
    print(f'  step: median {result["median_ms"]:.1f} ms over {len(step)} '
          f'steps after {result["warmup"]} warm-up (min {min(step):.1f}, '
          f'max {max(step):.1f})')
    steps_per_s = 1e3 / result['median_ms']
    print(f'  throughput: {steps_per_s:.3f} steps/s, '
          f'{steps_per_s * bsz:.1f} images/s '
          f'(amp {result.get("amp_dtype") or "off"}, compile '
          f'{result.get("compile") or "off"})')
    if result['device'] == 'cpu':
        print(f'  CPU time of the process: median '
              f'{result["median_cpu_ms"]:.1f} ms a step (all threads)')
    if result['memory_kind'] == 'not measured':
        print('  peak memory: not measured (both models in one process; run '
              'without --interleave)')
    elif result['memory_kind'] == 'peak RSS':
        print(f'  peak memory: {result["peak_mib"]:.0f} MiB peak RSS '
              f'(process at {result["rss_before_build_mib"]:.0f} MiB before '
              'building the model)')
    else:
        print(f'  peak memory: {result["peak_mib"]:.0f} MiB '
              f'{result["memory_kind"]}')
    parts = stage_breakdown(result)
    total = parts.pop('step')
    how = ('the timed steps' if result['profiled_inline'] else
           f'{result["profile_iters"]} profiled steps')
    print(f'  split (median of {how}, {total:.1f} ms a step):')
    for label, value in parts.items():
        share = 100.0 * value / total if total > 0 else 0.0
        print(f'    {label:<28}{value:>10.1f} ms {share:>6.2f} %')
    for key, shapes in result['shapes'].items():
        print(f'    calls of {key}: {[list(s) for s in shapes]}')
    if result['missing_stages']:
        print(f'    (the model has no {", ".join(result["missing_stages"])})')


def frequency_share(result: Dict[str, Any]) -> float:
    """Frequency work in percent of the profiled step."""
    parts = stage_breakdown(result)
    return 100.0 * parts['frequency'] / parts['step'] if parts['step'] else 0.


def main(argv: List[str] = None) -> None:
    """Run both configs and print the comparison."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.worker is not None:
        result = run_one(args.worker, args)
        with open(args.result_file, 'w') as f:
            json.dump(result, f)
        return
    results = {}
    if args.interleave:
        print('benchmarking A and B, alternating steps', file=sys.stderr)
        results = run_interleaved(args)
    for name, config in (('A', args.config_a), ('B', args.config_b)):
        if args.interleave:
            break
        print(f'benchmarking {name}: {config}', file=sys.stderr, flush=True)
        if args.in_process:
            results[name] = run_one(config, args)
        else:
            results[name] = run_child(config, args)
    for name in ('A', 'B'):
        report(name, results[name])
    ratio = results['B']['median_ms'] / results['A']['median_ms']
    share = frequency_share(results['B'])
    if args.json_out:
        os.makedirs(osp.dirname(osp.abspath(args.json_out)), exist_ok=True)
        with open(args.json_out, 'w') as f:
            json.dump(
                dict(
                    A=results['A'],
                    B=results['B'],
                    ratio=ratio,
                    frequency_share=share,
                    breakdown_A=stage_breakdown(results['A']),
                    breakdown_B=stage_breakdown(results['B'])),
                f,
                indent=2)
    if not args.interleave:
        print(f'peak memory B/A: '
              f'{results["B"]["peak_mib"] / results["A"]["peak_mib"]:.3f}')
    if args.device == 'cpu':
        cpu_ratio = results['B']['median_cpu_ms'] / results['A'][
            'median_cpu_ms']
        print(f'CPU-time ratio B/A: {cpu_ratio:.3f}')
    print(f'frequency share: {share:.2f}%')
    print(f'ratio B/A: {ratio:.3f}')


if __name__ == '__main__':
    main()
