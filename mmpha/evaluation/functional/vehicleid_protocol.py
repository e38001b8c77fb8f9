"""The VehicleID evaluation protocol (Liu et al., CVPR 2016).

VehicleID has no fixed query / gallery split and no cameras. Each trial
draws, for every test identity, one random image into the gallery; all the
other images of the test set are queries. The queries are ranked against
that gallery under the ranking of
:func:`~mmpha.evaluation.functional.evaluate` with camera filtering off
(every query and gallery image is given a different camera, so no gallery
image is removed), and the metrics are averaged over the trials (10 in the
literature), with their standard deviation.

Symbols: ``N`` test images, ``D`` feature width, ``P`` test identities,
``T`` trials.
"""
from typing import Dict, List, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from mmpha.utils import DistMetric, check_int, check_positive_int
from .ranking import ArrayLike, _to_ids, evaluate


def vehicleid_split(pids: ArrayLike,
                    seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one gallery image per identity; the other images are queries.

    The draw depends only on ``seed`` and on the ids in sample order: a
    random permutation of the samples (NumPy's ``default_rng(seed)``), of
    which the first sample of each identity goes to the gallery.

    Args:
        pids (numpy.ndarray | Tensor | Sequence[int]): ``(N, )`` ids.
        seed (int): Seed of the trial.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: Sorted int64 indices of the
        queries, ``(N - P, )``, and of the gallery, ``(P, )`` in ascending
        order of the identity.
    """
    pids = np.asarray(pids).reshape(-1)
    order = np.random.default_rng(seed).permutation(pids.shape[0])
    # The first occurrence of each id in the permuted order.
    _, first = np.unique(pids[order], return_index=True)
    gallery = order[first].astype(np.int64)
    is_query = np.ones(pids.shape[0], dtype=bool)
    is_query[gallery] = False
    return np.flatnonzero(is_query).astype(np.int64), gallery


def evaluate_vehicleid(
    feats: Tensor,
    pids: ArrayLike,
    trials: int = 10,
    seed: int = 0,
    dist_metric: DistMetric = 'euclidean',
    norm_feat: bool = True,
    max_rank: int = 50,
    chunk_size: int = 256
) -> Dict[str, Union[float, int, np.ndarray, List[dict]]]:
    """mAP, CMC and mINP of the VehicleID protocol over seeded trials.

    Trial ``t`` splits the test set with :func:`vehicleid_split` and seed
    ``seed + t``, so each trial can be reproduced alone.

    Args:
        feats (Tensor): ``(N, D)`` features of the whole test set.
        pids (numpy.ndarray | Tensor | Sequence[int]): ``(N, )`` ids.
        trials (int): Number of random splits. Defaults to 10.
        seed (int): Seed of the first trial. Defaults to 0.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        norm_feat (bool): L2-normalise the features first. Defaults to
            True.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        chunk_size (int): Queries ranked at once. Defaults to 256.

    Returns:
        dict: ``trials`` (list of the per-trial results of
        :func:`~mmpha.evaluation.functional.evaluate`, each with
        ``num_gallery`` added), ``mAP`` / ``mINP`` (float, the mean over
        trials, in [0, 1]) and ``mAP_std`` / ``mINP_std`` (population
        standard deviation, ``ddof=0``), ``CMC`` / ``CMC_std``
        (``(max_rank, )`` float64 arrays), ``num_queries`` and
        ``num_gallery`` (int, the same in every trial: ``N - P`` and
        ``P``).

    Raises:
        ValueError: If ``feats`` is not ``(N, D)``, the ids do not match,
            or no identity has two images (there would be no query).
    """
    trials = check_positive_int(trials, 'trials')
    seed = check_int(seed, 'seed', 0)
    if not isinstance(feats, Tensor) or feats.dim() != 2 or \
            feats.shape[0] == 0:
        raise ValueError('feats must be a non-empty (N, D) tensor, got '
                         f'{getattr(feats, "shape", type(feats))}.')
    ids = _to_ids(pids, 'pids', feats.shape[0], feats.device)
    if int(torch.unique(ids).numel()) == ids.numel():
        raise ValueError('VehicleID protocol: every identity has a single '
                         'image, so no query is left once the gallery is '
                         'drawn.')
    ids_np = ids.cpu().numpy()
    results = []
    for t in range(trials):
        query, gallery = vehicleid_split(ids_np, seed + t)
        q_idx = torch.from_numpy(query).to(feats.device)
        g_idx = torch.from_numpy(gallery).to(feats.device)
        # Query camera 0, gallery camera 1: nothing is filtered.
        out = evaluate(
            feats[q_idx],
            feats[g_idx],
            ids[q_idx],
            ids[g_idx],
            torch.zeros_like(q_idx),
            torch.ones_like(g_idx),
            dist_metric=dist_metric,
            norm_feat=norm_feat,
            max_rank=max_rank,
            chunk_size=chunk_size)
        out['num_gallery'] = int(gallery.shape[0])
        results.append(out)
    summary: Dict[str, Union[float, int, np.ndarray, List[dict]]] = dict(
        trials=results,
        num_queries=results[0]['num_queries'],
        num_gallery=results[0]['num_gallery'])
    for key in ('mAP', 'mINP'):
        values = np.array([r[key] for r in results], dtype=np.float64)
        summary[key], summary[f'{key}_std'] = float(values.mean()), float(
            values.std())
    cmc = np.stack([r['CMC'] for r in results]).astype(np.float64)
    summary['CMC'], summary['CMC_std'] = cmc.mean(0), cmc.std(0)
    return summary
