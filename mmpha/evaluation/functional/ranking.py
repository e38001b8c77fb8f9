"""The re-ID evaluation protocol as plain functions.

The protocol is the standard (Market-1501) one: for every query, the gallery
is ranked by increasing distance with a stable sort (equal distances keep
gallery order), and the gallery images that show the same person *under the
same camera* are deleted, because finding them is trivial (this also
deletes the query's own image when the gallery contains it). On what
remains:

- AP = mean over the positives of the precision at their rank;
- CMC[k] = 1 if a positive is within the first k + 1 ranks;
- INP = (number of positives) / (rank of the last positive), from Ye et
  al., "Deep Learning for Person Re-identification: A Survey and Outlook"
  (TPAMI 2021).

Queries left without any positive are skipped. :func:`reference_rank` does
exactly this, one query at a time; :func:`evaluate_rank` computes the same
numbers without sorting the rows (see
:class:`~mmpha.evaluation.functional.fast_ranking.RankAccumulator`), in
memory-bounded chunks; :func:`evaluate` starts from features.

Symbols: ``Q`` queries, ``G`` gallery images, ``D`` feature width.
"""
from typing import Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmpha.utils import (DistMetric, check_dist_metric, check_feature_pair,
                         check_positive_int, pairwise_distance)
from .fast_ranking import RankAccumulator, rank_summary
from .rerank import DEFAULT_MAX_MEMORY, check_rerank_args, iter_re_ranking

ArrayLike = Union[np.ndarray, Tensor, Sequence]


def _to_tensor(value: ArrayLike, name: str,
               device: Optional[torch.device]) -> Tensor:
    """Convert an array-like to a tensor on ``device`` without copying when
    it already is one there."""
    if isinstance(value, Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        tensor = torch.as_tensor(np.asarray(value))
    else:
        raise TypeError(f'{name} must be a numpy array, a torch tensor or a '
                        f'sequence, got {type(value)}.')
    return tensor if device is None else tensor.to(device)


def _to_ids(value: ArrayLike, name: str, length: int,
            device: torch.device) -> Tensor:
    """Check that ``value`` holds ``length`` integer ids and return them as
    an int64 tensor."""
    ids = _to_tensor(value, name, device)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f'{name} must hold integers, got dtype {ids.dtype}.')
    if ids.dim() != 1 or ids.numel() != length:
        raise ValueError(f'{name} must have shape ({length},) to match '
                         f'the distances, got {tuple(ids.shape)}.')
    return ids.long()


RankInputs = Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


def check_rank_inputs(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike,
                      q_camids: ArrayLike, g_camids: ArrayLike) -> RankInputs:
    """Check and convert the inputs of a ranking.

    Args:
        distmat (numpy.ndarray | Tensor | Sequence): ``(Q, G)`` distances.
        q_pids (numpy.ndarray | Tensor | Sequence): ``(Q, )`` query ids.
        g_pids (numpy.ndarray | Tensor | Sequence): ``(G, )`` gallery ids.
        q_camids (numpy.ndarray | Tensor | Sequence): ``(Q, )`` query
            cameras.
        g_camids (numpy.ndarray | Tensor | Sequence): ``(G, )`` gallery
            cameras.

    Returns:
        tuple[Tensor, ...]: ``distmat`` (floating, float64 if it held
        integers) and the four id tensors (int64), all on the device of
        ``distmat``.

    Raises:
        TypeError: If an input is not array-like or ids are not integers.
        ValueError: On shape mismatches.
    """
    distmat = _to_tensor(distmat, 'distmat', None)
    if not distmat.is_floating_point():
        distmat = distmat.double()
    if distmat.dim() != 2 or 0 in distmat.shape:
        raise ValueError('distmat must be a non-empty (Q, G) matrix, got '
                         f'shape {tuple(distmat.shape)}.')
    num_query, num_gallery = distmat.shape
    device = distmat.device
    q_pids = _to_ids(q_pids, 'q_pids', num_query, device)
    g_pids = _to_ids(g_pids, 'g_pids', num_gallery, device)
    q_camids = _to_ids(q_camids, 'q_camids', num_query, device)
    g_camids = _to_ids(g_camids, 'g_camids', num_gallery, device)
    return distmat, q_pids, g_pids, q_camids, g_camids


def reference_rank(distmat: ArrayLike,
                   q_pids: ArrayLike,
                   g_pids: ArrayLike,
                   q_camids: ArrayLike,
                   g_camids: ArrayLike,
                   max_rank: int = 50) -> dict:
    """mAP, CMC and mINP, one query at a time: the protocol as written.

    It sorts every row (``O(Q G log G)``) and loops in Python, so it is
    slow at dataset scale; it is the definition that :func:`evaluate_rank`
    is tested against. Inputs, outputs and errors are those of
    :func:`evaluate_rank`.

    Args:
        distmat (numpy.ndarray | Tensor): ``(Q, G)`` distances, smaller is
            more similar.
        q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
        g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
        q_camids (numpy.ndarray | Tensor): ``(Q, )`` query camera ids.
        g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery camera ids.
        max_rank (int): Length of the CMC curve. Defaults to 50.

    Returns:
        dict: See :func:`evaluate_rank`.
    """
    max_rank = check_positive_int(max_rank, 'max_rank')
    distmat, q_pids, g_pids, q_camids, g_camids = check_rank_inputs(
        distmat, q_pids, g_pids, q_camids, g_camids)
    ap_sum = inp_sum = 0.0
    first_hits = []
    for i in range(distmat.shape[0]):
        order = torch.sort(distmat[i], stable=True).indices
        same_id = g_pids[order] == q_pids[i]
        junk = same_id & (g_camids[order] == q_camids[i])
        matches = same_id[~junk]
        if not bool(matches.any()):
            continue
        # 1-based ranks of the positives, and how many are found by each.
        hit_ranks = matches.nonzero().squeeze(1).double() + 1
        found = torch.arange(
            1, hit_ranks.numel() + 1, dtype=torch.float64, device=order.device)
        ap_sum += float((found / hit_ranks).mean())
        inp_sum += float(hit_ranks.numel() / hit_ranks[-1])
        first_hits.append(int(hit_ranks[0]) - 1)
    first_hit_hist = torch.bincount(
        torch.tensor(first_hits, dtype=torch.long).clamp(max=max_rank),
        minlength=max_rank + 1)
    return rank_summary(ap_sum, inp_sum, first_hit_hist, len(first_hits),
                        distmat.shape[0], max_rank)


def evaluate_rank(distmat: ArrayLike,
                  q_pids: ArrayLike,
                  g_pids: ArrayLike,
                  q_camids: ArrayLike,
                  g_camids: ArrayLike,
                  max_rank: int = 50) -> dict:
    """mAP, CMC and mINP from a query-gallery distance matrix (fast path).

    The numbers of :func:`reference_rank` (see the module documentation
    for the protocol), computed without sorting the rows. The work is
    chunked over queries so that at most ~16.7 M ``(query, gallery)``
    elements of temporaries (about 350 MB) exist at once, besides
    ``distmat`` itself; it runs on the device of ``distmat``.

    Args:
        distmat (numpy.ndarray | Tensor): ``(Q, G)`` distances of Q
            queries to G gallery images (smaller is more similar),
            finite.
        q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
        g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
        q_camids (numpy.ndarray | Tensor): ``(Q, )`` query camera ids.
        g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery camera ids.
        max_rank (int): Length of the CMC curve. If it exceeds G, the
            curve is padded with its last value. Defaults to 50.

    Returns:
        dict: ``mAP`` and ``mINP`` (float, in [0, 1]), ``CMC``
        (``(max_rank, )`` cumulative float64 numpy array in [0, 1]),
        ``num_valid_queries`` (int, the queries not skipped) and
        ``num_queries`` (int).

    Raises:
        ValueError: On shape mismatches, non-finite distances, a
            non-positive ``max_rank``, or if no query has a valid match.

    Examples:
        One query (id 1, camera 0); the gallery holds id 1 under camera 1,
        id 2, and id 1 under camera 0 (deleted).

        >>> out = evaluate_rank([[0.3, 0.1, 0.2]], q_pids=[1],
        ...                     g_pids=[1, 2, 1], q_camids=[0],
        ...                     g_camids=[1, 1, 0], max_rank=3)
        >>> out['mAP'], out['mINP'], out['CMC'].tolist()
        (0.5, 0.5, [0.0, 1.0, 1.0])
    """
    max_rank = check_positive_int(max_rank, 'max_rank')
    distmat, q_pids, g_pids, q_camids, g_camids = check_rank_inputs(
        distmat, q_pids, g_pids, q_camids, g_camids)
    acc = RankAccumulator(g_pids, g_camids, max_rank)
    acc.update(distmat, q_pids, q_camids)
    return acc.result()


def iter_distances(query_feats: Tensor,
                   gallery_feats: Tensor,
                   dist_metric: DistMetric = 'euclidean',
                   chunk_size: int = 256,
                   rerank: bool = False,
                   k1: int = 20,
                   k2: int = 6,
                   lambda_value: float = 0.3,
                   normalized: bool = False,
                   rerank_max_memory: Optional[float] = DEFAULT_MAX_MEMORY
                   ) -> Iterator[Tensor]:
    """Query-gallery distances, chunk after chunk of queries.

    Never the whole ``(Q, G)`` matrix at once. With ``rerank`` the chunks
    are the k-reciprocal re-ranked distances
    (:func:`~mmpha.evaluation.functional.iter_re_ranking`).

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        chunk_size (int): Queries per chunk. Defaults to 256.
        rerank (bool): Re-rank. Defaults to False.
        k1 (int): Re-ranking neighbourhood size. Defaults to 20.
        k2 (int): Re-ranking query-expansion size. Defaults to 6.
        lambda_value (float): Re-ranking weight of the original distance.
            Defaults to 0.3.
        normalized (bool): The features have unit L2 norm, which spares
            ``'cosine'`` normalising them again. Defaults to False.
        rerank_max_memory (float, optional): Limit of the re-ranking's
            estimated memory, in bytes (see
            :func:`~mmpha.evaluation.functional.check_rerank_memory`).
            Defaults to 8 GiB.

    Yields:
        Tensor: ``(C, G)`` distances of the next ``C <= chunk_size``
        queries, in query order.
    """
    if rerank:
        yield from iter_re_ranking(
            query_feats,
            gallery_feats,
            k1=k1,
            k2=k2,
            lambda_value=lambda_value,
            dist_metric=dist_metric,
            chunk_size=chunk_size,
            max_memory=rerank_max_memory)
        return
    if dist_metric == 'cosine' and not normalized:
        query_feats = F.normalize(query_feats, dim=1)
        gallery_feats = F.normalize(gallery_feats, dim=1)
    # The Euclidean distance, not its square: the ranking is the same and
    # the values are the ones users expect when they inspect them.
    for start in range(0, query_feats.shape[0], chunk_size):
        yield pairwise_distance(
            query_feats[start:start + chunk_size],
            gallery_feats,
            dist_metric,
            normalized=True)


def feed_chunks(accs: Iterable, distances: Iterable[Tensor], q_pids: Tensor,
                q_camids: Tensor) -> None:
    """Give every chunk of query rows to every accumulator.

    Args:
        accs (Iterable): Objects with ``update(dist, q_pids, q_camids)``
            (e.g. :class:`~mmpha.evaluation.functional.RankAccumulator`).
        distances (Iterable[Tensor]): ``(C, G)`` distance chunks of
            consecutive queries, in query order (see
            :func:`iter_distances`).
        q_pids (Tensor): ``(Q, )`` int64 query ids.
        q_camids (Tensor): ``(Q, )`` int64 query cameras.
    """
    accs = list(accs)
    start = 0
    for dist in distances:
        stop = start + dist.shape[0]
        for acc in accs:
            acc.update(dist, q_pids[start:stop], q_camids[start:stop])
        start = stop


FeatureInputs = Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, bool]


def prepare_feature_inputs(query_feats: Tensor, gallery_feats: Tensor,
                           q_pids: ArrayLike, g_pids: ArrayLike,
                           q_camids: ArrayLike, g_camids: ArrayLike,
                           dist_metric: str, norm_feat: bool,
                           normalized: bool) -> FeatureInputs:
    """Normalise the features and check the ids of a feature protocol.

    Shared by :func:`evaluate` and
    :func:`~mmpha.evaluation.functional.extra_metrics.evaluate_extras`:
    the features become float32 and, with ``norm_feat`` or ``'cosine'``
    (unless already ``normalized``), unit-L2; the ids become int64 tensors
    on the features' device, checked in the order query ids, query
    cameras, gallery ids, gallery cameras.

    Args:
        query_feats (Tensor): ``(Q, D)``.
        gallery_feats (Tensor): ``(G, D)``.
        q_pids (ArrayLike): ``(Q, )`` ids.
        g_pids (ArrayLike): ``(G, )`` ids.
        q_camids (ArrayLike): ``(Q, )`` cameras.
        g_camids (ArrayLike): ``(G, )`` cameras.
        dist_metric (str): As for :func:`evaluate`, like the two below.
        norm_feat (bool): L2-normalise.
        normalized (bool): Already of unit norm.

    Returns:
        tuple: ``(query_feats, gallery_feats, q_pids, g_pids, q_camids,
        g_camids, normalized)``, ``normalized`` True once the features
        have unit norm.
    """
    query_feats, gallery_feats = query_feats.float(), gallery_feats.float()
    if (norm_feat or dist_metric == 'cosine') and not normalized:
        query_feats = F.normalize(query_feats, dim=1)
        gallery_feats = F.normalize(gallery_feats, dim=1)
        normalized = True
    device = query_feats.device
    num_query, num_gallery = query_feats.shape[0], gallery_feats.shape[0]
    q_pids = _to_ids(q_pids, 'q_pids', num_query, device)
    q_camids = _to_ids(q_camids, 'q_camids', num_query, device)
    g_pids = _to_ids(g_pids, 'g_pids', num_gallery, device)
    g_camids = _to_ids(g_camids, 'g_camids', num_gallery, device)
    return (query_feats, gallery_feats, q_pids, g_pids, q_camids, g_camids,
            normalized)


def evaluate(query_feats: Tensor,
             gallery_feats: Tensor,
             q_pids: ArrayLike,
             g_pids: ArrayLike,
             q_camids: ArrayLike,
             g_camids: ArrayLike,
             dist_metric: DistMetric = 'euclidean',
             norm_feat: bool = True,
             rerank: bool = False,
             k1: int = 20,
             k2: int = 6,
             lambda_value: float = 0.3,
             chunk_size: int = 256,
             max_rank: int = 50,
             normalized: bool = False,
             rerank_max_memory: Optional[float] = DEFAULT_MAX_MEMORY) -> dict:
    """The whole protocol from features: what :class:`ReIDMetric` reports.

    The features are L2-normalised (``norm_feat``, always for
    ``'cosine'``), their distances computed ``chunk_size`` queries at a
    time (optionally re-ranked) and each chunk ranked by the fast path of
    :func:`evaluate_rank`.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features, in dataset
            order (the gallery order breaks distance ties).
        q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
        g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
        q_camids (numpy.ndarray | Tensor): ``(Q, )`` query camera ids.
        g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery camera ids.
        dist_metric (str): ``'euclidean'`` or ``'cosine'`` (one minus
            cosine similarity). Defaults to ``'euclidean'``.
        norm_feat (bool): L2-normalise the features first. Defaults to
            True.
        rerank (bool): Apply k-reciprocal re-ranking. Defaults to False.
        k1 (int): Re-ranking neighbourhood size. Defaults to 20.
        k2 (int): Re-ranking query-expansion size. Defaults to 6.
        lambda_value (float): Re-ranking weight of the original distance,
            in [0, 1]. Defaults to 0.3.
        chunk_size (int): Queries handled at once; peak memory grows
            linearly with it. Defaults to 256.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        normalized (bool): The features already have unit L2 norm (skip
            the normalisation). Defaults to False.
        rerank_max_memory (float, optional): Limit of the re-ranking's
            estimated memory, in bytes; None disables the check. Defaults
            to 8 GiB.

    Returns:
        dict: See :func:`evaluate_rank`.

    Raises:
        ValueError: On bad arguments or shapes, or if no query has a valid
            match.

    Examples:
        >>> import torch
        >>> out = evaluate(torch.tensor([[1., 0.]]),
        ...                torch.tensor([[1., 0.1], [0., 1.]]),
        ...                q_pids=[7], g_pids=[7, 8], q_camids=[0],
        ...                g_camids=[1, 1], max_rank=2)
        >>> out['mAP'], out['CMC'].tolist()
        (1.0, [1.0, 1.0])
    """
    check_dist_metric(dist_metric, 'dist_metric')
    check_rerank_args(k1, k2, lambda_value)
    chunk_size = check_positive_int(chunk_size, 'chunk_size')
    max_rank = check_positive_int(max_rank, 'max_rank')
    check_feature_pair(
        query_feats,
        gallery_feats, ('query_feats', 'gallery_feats'),
        allow_empty=False)
    (query_feats, gallery_feats, q_pids, g_pids, q_camids, g_camids,
     normalized) = prepare_feature_inputs(query_feats, gallery_feats, q_pids,
                                          g_pids, q_camids, g_camids,
                                          dist_metric, norm_feat, normalized)
    acc = RankAccumulator(g_pids, g_camids, max_rank)
    feed_chunks([acc],
                iter_distances(query_feats, gallery_feats, dist_metric,
                               chunk_size, rerank, k1, k2, lambda_value,
                               normalized, rerank_max_memory), q_pids,
                q_camids)
    return acc.result()
