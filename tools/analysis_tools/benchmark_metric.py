"""Time ``ReIDMetric.calculate`` against the usual per-query NumPy loop.

The loop is the reference evaluation of the re-ID literature (the
Market-1501 protocol code of TransReID and torchreid's ``eval_func``): sort
each query's gallery, delete same-id same-camera images, accumulate CMC,
AP and INP. Both run on the same random, Market-1501-sized data; the tool
prints both times, their ratio and the largest absolute differences of mAP,
CMC and mINP.

With ``--gallery N`` it instead times the exact chunked evaluation
(``mmpha.evaluation.functional.evaluate_chunked``) of Market-1501's 3368
queries against a gallery of N random 768-d features (the 15913 labelled
images plus never-matching distractors, stored in float16), and prints the
time and the peak resident memory.

Example:
    python tools/analysis_tools/benchmark_metric.py
    python tools/analysis_tools/benchmark_metric.py --gallery 1000000
    python tools/analysis_tools/benchmark_metric.py --num-query 11659 \\
        --num-gallery 82161 --num-ids 3060 --num-cams 15  # MSMT17-sized
"""
import argparse
import importlib
import time
from typing import Optional, Sequence

import numpy as np
import torch

from mmpha.apis.benchmark.large_gallery import (benchmark_large_gallery,
                                                make_feature_data)
from mmpha.apis.benchmark.metric import benchmark_metric, make_rank_data


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
    parser.add_argument(
        '--gallery',
        type=int,
        default=None,
        help='time the exact chunked evaluation of features against a '
        'gallery of this many images (--num-gallery labelled ones, the rest '
        'distractors) and print its peak memory')
    parser.add_argument(
        '--dim', type=int, default=768, help='feature width with --gallery')
    parser.add_argument(
        '--noise',
        type=float,
        default=2.5,
        help='spread of an identity around its centre with --gallery')
    parser.add_argument(
        '--query-chunk',
        type=int,
        default=1024,
        help='queries per chunk with --gallery')
    parser.add_argument(
        '--gallery-chunk',
        type=int,
        default=None,
        help='gallery images per chunk with --gallery (default: 2**24 '
        'distances per block)')
    parser.add_argument(
        '--fastreid',
        metavar='MODULE',
        default=None,
        help='also time fast-reid\'s compiled evaluator on the same matrix: '
        'the module holding its evaluate_cy, e.g. '
        'fastreid.evaluation.rank_cylib.rank_cy (build it with fast-reid\'s '
        'rank_cylib Makefile first)')
    args = parser.parse_args(argv)
    if args.gallery is not None and args.gallery < args.num_gallery:
        parser.error(f'--gallery must be >= --num-gallery '
                     f'({args.num_gallery}), got {args.gallery}')
    for name in ('num_query', 'num_gallery', 'num_ids', 'num_cams', 'max_rank',
                 'repeat', 'dim', 'query_chunk'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{getattr(args, name)}')
    return args


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


def _fastreid(module_name: str, data: dict, max_rank: int, repeat: int,
              ours: dict, our_time: float) -> dict:
    """Time fast-reid's ``evaluate_cy`` on ``data`` and compare with ours.

    fast-reid's Market-1501 evaluator returns the CMC averaged over the valid
    queries and per-query AP / INP arrays that hold 0 for the queries
    without a valid match; its mAP and mINP are their sums over the valid
    queries.
    """
    try:
        module = importlib.import_module(module_name)
        evaluate_cy = module.evaluate_cy
    except (ImportError, AttributeError) as e:
        raise SystemExit(f'error: --fastreid {module_name!r}: cannot import '
                         f'its evaluate_cy ({e}); build fast-reid\'s '
                         'rank_cylib and put it on PYTHONPATH') from None
    args = (data['distmat'], data['q_pids'], data['g_pids'], data['q_camids'],
            data['g_camids'])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        cmc, all_ap, all_inp = evaluate_cy(*args, max_rank)[:3]
        times.append(time.perf_counter() - start)
    all_ap, all_inp = np.asarray(all_ap), np.asarray(all_inp)
    valid = all_inp > 0  # INP of a valid query is > 0, else left at 0
    theirs = dict(
        mAP=float(all_ap[valid].sum() / valid.sum()),
        mINP=float(all_inp[valid].sum() / valid.sum()),
        CMC=np.asarray(cmc, dtype=np.float64))
    best = min(times)
    print(f'fast-reid evaluate_cy ({module_name}): {best:.3f} s '
          f'(best of {repeat})')
    print(f'speed-up over fast-reid: {best / our_time:.1f}x')
    diffs = dict(
        mAP=abs(theirs['mAP'] - float(ours['mAP'])),
        mINP=abs(theirs['mINP'] - float(ours['mINP'])),
        CMC=float(
            np.abs(
                theirs['CMC'] -
                np.asarray(ours['CMC'], dtype=np.float64)[:len(cmc)]).max()))
    for name, diff in diffs.items():
        print(f'max abs diff to fast-reid {name}: {diff:.3e}')
    return dict(time=best, ratio=best / our_time, diffs=diffs, result=theirs)


def _large_gallery(args: argparse.Namespace) -> dict:
    """Time the exact chunked evaluation against ``args.gallery`` images."""
    start = time.perf_counter()
    data = make_feature_data(
        args.num_query,
        args.num_gallery,
        args.gallery - args.num_gallery,
        args.num_ids,
        args.num_cams,
        args.dim,
        seed=args.seed,
        noise=args.noise)
    print(f'random features: {args.num_query} queries x {args.gallery} '
          f'gallery images ({args.num_gallery} labelled, '
          f'{args.gallery - args.num_gallery} distractors), {args.dim}-d, '
          f'gallery in float16, generated in '
          f'{time.perf_counter() - start:.1f} s')
    out = benchmark_large_gallery(
        data,
        max_rank=args.max_rank,
        query_chunk=args.query_chunk,
        gallery_chunk=args.gallery_chunk)
    result = out['result']
    print(f'evaluate_chunked (exact, {torch.get_num_threads()} threads): '
          f'{out["time"]:.1f} s')
    print(f'features: {out["feature_mib"]:.0f} MiB; resident memory before '
          f'the evaluation: {out["rss_before_mib"]:.0f} MiB; peak resident '
          f'memory of the process: {out["peak_rss_mib"]:.0f} MiB')
    print(f'mAP {result["mAP"]:.6f}, mINP {result["mINP"]:.6f}, '
          f'R1 {result["CMC"][0]:.6f}, R10 {result["CMC"][9]:.6f}')
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.gallery is not None:
        return _large_gallery(args)
    data = make_rank_data(args.num_query, args.num_gallery, args.num_ids,
                          args.num_cams, args.seed, args.decimals)
    print(f'random data: {args.num_query} queries x {args.num_gallery} '
          f'gallery images, {args.num_ids} ids, {args.num_cams} cameras, '
          f'seed {args.seed}')
    out = benchmark_metric(
        data,
        _reference,
        max_rank=args.max_rank,
        repeat=args.repeat,
        device=args.device)
    print(f'reference (per-query NumPy loop): {out["ref_time"]:.3f} s')
    print(f'ReIDMetric.calculate (torch, {args.device}, '
          f'{torch.get_num_threads()} threads): {out["time"]:.3f} s '
          f'(best of {args.repeat})')
    print(f'speed-up: {out["ratio"]:.1f}x')
    for name, diff in out['diffs'].items():
        print(f'max abs diff {name}: {diff:.3e}')
    result = out['result']
    print(f'mAP {result["mAP"]:.6f}, mINP {result["mINP"]:.6f}, '
          f'R1 {result["CMC"][0]:.6f}')
    if args.fastreid:
        out['fastreid'] = _fastreid(args.fastreid, data, args.max_rank,
                                    args.repeat, result, out['time'])
    return out


if __name__ == '__main__':
    main()
