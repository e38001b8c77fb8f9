"""Speed of the re-ID metric against a reference ranking, on random data.

:func:`make_rank_data` draws Market-1501-sized ids, cameras and distances;
:func:`benchmark_metric` times ``ReIDMetric.calculate`` against a reference
ranking function on them and reports the largest differences of mAP, CMC
and mINP. ``tools/analysis_tools/benchmark_metric.py`` is the command line.

Symbols: ``Q`` queries, ``G`` gallery images, ``R`` the largest CMC rank.
"""
import time
from typing import Callable, Dict, Optional

import numpy as np
import torch

from mmpha.evaluation import ReIDMetric
from mmpha.utils import check_positive_int

#: ``reference(distmat, q_pids, g_pids, q_camids, g_camids, max_rank)`` on
#: NumPy arrays, returning a dict with ``mAP``, ``mINP`` (float) and ``CMC``
#: (``(R, )`` array).
ReferenceRanking = Callable[..., dict]


def make_rank_data(num_query: int,
                   num_gallery: int,
                   num_ids: int,
                   num_cams: int,
                   seed: int = 0,
                   decimals: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Random ids, cameras and distances of a query and a gallery set.

    Same-id pairs are drawn closer, so that the metrics are far from zero.

    Args:
        num_query (int): Q.
        num_gallery (int): G.
        num_ids (int): Ids are drawn from ``[0, num_ids)``.
        num_cams (int): Cameras are drawn from ``[0, num_cams)``.
        seed (int): Seed of the draw. Defaults to 0.
        decimals (int, optional): Round the distances to this many decimals,
            which creates ties. Defaults to None (no rounding).

    Returns:
        dict[str, np.ndarray]: ``distmat`` ``(Q, G)`` float32, ``q_pids``
        and ``q_camids`` ``(Q, )``, ``g_pids`` and ``g_camids`` ``(G, )``.
    """
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


def benchmark_metric(data: Dict[str, np.ndarray],
                     reference: ReferenceRanking,
                     max_rank: int = 50,
                     repeat: int = 3,
                     device: str = 'cpu',
                     timer: Callable[[], float] = time.perf_counter) -> dict:
    """Time ``ReIDMetric.calculate`` against ``reference`` on ``data``.

    The reference runs once; the metric runs once untimed (first-call
    allocations, kernel loading), then ``repeat`` timed times, of which the
    best counts. CUDA is synchronised before the clock is read.

    Args:
        data (dict[str, np.ndarray]): From :func:`make_rank_data`.
        reference (Callable): The reference ranking, see
            :data:`ReferenceRanking`.
        max_rank (int): R. Defaults to 50.
        repeat (int): Timed runs of the metric. Defaults to 3.
        device (str): Device of the metric's inputs. Defaults to 'cpu'.
        timer (Callable[[], float]): The clock, in seconds. Defaults to
            :func:`time.perf_counter`.

    Returns:
        dict: ``ref_time`` and ``time`` (s, the metric's best), ``ratio``
        (``ref_time / time``), ``diffs`` (largest absolute differences of
        ``mAP``, ``CMC`` and ``mINP``), ``result`` (the metric's) and
        ``expected`` (the reference's).

    Raises:
        ValueError: If ``max_rank`` or ``repeat`` is not a positive int.
    """
    check_positive_int(max_rank, 'max_rank')
    check_positive_int(repeat, 'repeat')
    start = timer()
    expected = reference(**data, max_rank=max_rank)
    ref_time = timer() - start

    dev = torch.device(device)
    inputs = {k: torch.from_numpy(v).to(dev) for k, v in data.items()}

    def run() -> dict:
        result = ReIDMetric.calculate(**inputs, max_rank=max_rank)
        if dev.type == 'cuda':
            torch.cuda.synchronize(dev)
        return result

    run()
    times = []
    for _ in range(repeat):
        start = timer()
        result = run()
        times.append(timer() - start)
    best = min(times)
    diffs = dict(
        mAP=abs(result['mAP'] - expected['mAP']),
        CMC=float(np.abs(result['CMC'] - expected['CMC']).max()),
        mINP=abs(result['mINP'] - expected['mINP']))
    return dict(
        ref_time=ref_time,
        time=best,
        ratio=ref_time / best,
        diffs=diffs,
        result=result,
        expected=expected)
