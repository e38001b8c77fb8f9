"""Time ``ReIDMetric.calculate`` against the usual per-query NumPy loop.

The loop is the reference evaluation of the re-ID literature (the
Market-1501 protocol code of TransReID and torchreid's ``eval_func``): sort
each query's gallery, delete same-id same-camera images, accumulate CMC,
AP and INP. Both run on the same random, Market-1501-sized data; the tool
prints both times, their ratio and the largest absolute differences of mAP,
CMC and mINP.

Example:
    python tools/analysis_tools/benchmark_metric.py
    python tools/analysis_tools/benchmark_metric.py --num-query 11659 \\
        --num-gallery 82161 --num-ids 3060 --num-cams 15  # MSMT17-sized
"""
import argparse
import time
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from mmpha.evaluation import ReIDMetric


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark ReIDMetric.calculate against a per-query '
        'NumPy loop on random data (Market-1501 sizes by default).')
    parser.add_argument('--num-query', type=int, default=3368)
    parser.add_argument('--num-gallery', type=int, default=15913)
    parser.add_argument('--num-ids', type=int, default=751)
    parser.add_argument('--num-cams', type=int, default=6)
    parser.add_argument('--max-rank', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--decimals',
        type=int,
        default=None,
        help='round the distances to this many decimals, which creates '
        'ties (default: no rounding)')
    parser.add_argument(
        '--repeat',
        type=int,
        default=3,
        help='timed runs of ReIDMetric.calculate; the best is reported')
    parser.add_argument(
        '--device',
        default='cpu',
        help='device of the distance matrix for ReIDMetric.calculate')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads; 1 (default) matches the single-threaded '
        'NumPy loop, 0 keeps the torch default')
    args = parser.parse_args(argv)
    for name in ('num_query', 'num_gallery', 'num_ids', 'num_cams', 'max_rank',
                 'repeat'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{getattr(args, name)}')
    return args


def make_data(num_query: int, num_gallery: int, num_ids: int, num_cams: int,
              seed: int, decimals: Optional[int]) -> Dict[str, np.ndarray]:
    """Random ids, cameras and distances; same-id pairs are drawn closer so
    that the metrics are far from zero."""
    rng = np.random.default_rng(seed)
    q_pids = rng.integers(0, num_ids, num_query)
    g_pids = rng.integers(0, num_ids, num_gallery)
    q_camids = rng.integers(0, num_cams, num_query)
    g_camids = rng.integers(0, num_cams, num_gallery)
    distmat = rng.random((num_query, num_gallery), dtype=np.float32)
    distmat[q_pids[:, None] == g_pids[None]] *= 0.02
    if decimals is not None:
        distmat = np.round(distmat, decimals)
    return dict(
        distmat=distmat,
        q_pids=q_pids,
        g_pids=g_pids,
        q_camids=q_camids,
        g_camids=g_camids)


def _reference(distmat: np.ndarray,
               q_pids: np.ndarray,
               g_pids: np.ndarray,
               q_camids: np.ndarray,
               g_camids: np.ndarray,
               max_rank: int = 50) -> dict:
    """The straightforward per-query loop (stable sort for equal distances).
    """
    num_q, num_g = distmat.shape
    indices = np.argsort(distmat, axis=1, kind='stable')
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_ap, all_inp = [], [], []
    for q_idx in range(num_q):
        order = indices[q_idx]
        remove = (g_pids[order] == q_pids[q_idx]) & (
            g_camids[order] == q_camids[q_idx])
        raw_cmc = matches[q_idx][np.invert(remove)]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        last_hit = np.max(np.where(raw_cmc == 1))
        all_inp.append(cmc[last_hit] / (last_hit + 1.0))
        cmc[cmc > 1] = 1
        cmc = cmc[:max_rank]
        if cmc.shape[0] < max_rank:
            cmc = np.pad(cmc, (0, max_rank - cmc.shape[0]), mode='edge')
        all_cmc.append(cmc)
        precision = raw_cmc.cumsum() / np.arange(1, raw_cmc.shape[0] + 1)
        all_ap.append((precision * raw_cmc).sum() / raw_cmc.sum())
    if not all_ap:
        raise ValueError('No query has a valid match.')
    all_cmc = np.asarray(all_cmc, dtype=np.float64)
    return dict(
        mAP=float(np.mean(all_ap)),
        mINP=float(np.mean(all_inp)),
        CMC=all_cmc.sum(0) / len(all_ap))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    data = make_data(args.num_query, args.num_gallery, args.num_ids,
                     args.num_cams, args.seed, args.decimals)
    print(f'random data: {args.num_query} queries x {args.num_gallery} '
          f'gallery images, {args.num_ids} ids, {args.num_cams} cameras, '
          f'seed {args.seed}')

    start = time.perf_counter()
    expected = _reference(**data, max_rank=args.max_rank)
    ref_time = time.perf_counter() - start
    print(f'reference (per-query NumPy loop): {ref_time:.3f} s')

    device = torch.device(args.device)
    inputs = {k: torch.from_numpy(v).to(device) for k, v in data.items()}

    def run() -> dict:
        result = ReIDMetric.calculate(**inputs, max_rank=args.max_rank)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return result

    run()  # warm-up: first-call allocations and kernel loading
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f'ReIDMetric.calculate (torch, {device}, '
          f'{torch.get_num_threads()} threads): {best:.3f} s '
          f'(best of {args.repeat})')
    ratio = ref_time / best
    print(f'speed-up: {ratio:.1f}x')
    diffs = dict(
        mAP=abs(result['mAP'] - expected['mAP']),
        CMC=float(np.abs(result['CMC'] - expected['CMC']).max()),
        mINP=abs(result['mINP'] - expected['mINP']))
    for name, diff in diffs.items():
        print(f'max abs diff {name}: {diff:.3e}')
    print(f'mAP {result["mAP"]:.6f}, mINP {result["mINP"]:.6f}, '
          f'R1 {result["CMC"][0]:.6f}')
    return dict(
        ref_time=ref_time,
        time=best,
        ratio=ratio,
        diffs=diffs,
        result=result,
        expected=expected)


if __name__ == '__main__':
    main()
