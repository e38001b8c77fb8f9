"""Exact evaluation and search against galleries of millions of images.

:func:`~mmpha.evaluation.functional.evaluate` holds one chunk of queries
against the *whole* gallery at a time (``(C, G)`` distances). With a
million gallery images even that is large, and the features themselves may
not fit in float32. The functions here cut the work in two directions:
chunks of queries times chunks of the gallery, so that at most
``query_chunk x gallery_chunk`` distances exist at once, and the gallery
features are converted (and L2-normalised) one chunk at a time, so they may
be stored in float16.

**Exact metrics without the matrix.** AP, INP and CMC need the rank of every
positive of a query, and a query's positives (and the same-camera "junk"
images the protocol deletes) are the few gallery images that share its id.
Their distances are computed directly; then one pass over the gallery
chunks counts, for each such candidate ``e``, the gallery images ``v`` that
come before it: ``d(v) < d(e)``, or ``d(v) == d(e)`` and ``v`` has the
smaller gallery index. That is the rank of ``e`` under a stable sort on
distance, the rule of
:func:`~mmpha.evaluation.functional.reference_rank`; the junk images are
removed from the ranks afterwards exactly as
:class:`~mmpha.evaluation.functional.RankAccumulator` does. mAP, mINP and
the CMC at every rank are therefore exact, not truncated at a top-k.

To keep the count consistent, every distance is taken from one source: the
candidates' entries of each gallery chunk are overwritten with the directly
computed candidate distances before counting (a matrix product over a chunk
and a per-pair dot product can round differently in the last bit).

**Ranked lists.** :func:`chunked_topk` keeps a running top-k per query over
the gallery chunks, equal distances ordered by gallery index (stable), the
same order as the reference ranking.

Symbols: ``Q`` queries, ``G`` gallery images, ``D`` feature width, ``C``
queries per chunk, ``B`` gallery images per chunk, ``K`` candidates (same
id) of a query, ``k`` neighbours returned.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmpha.utils import (DistMetric, check_dist_metric, check_feature_pair,
                         check_positive_int, pairwise_distance)
from .fast_ranking import RankAccumulator
from .ranking import ArrayLike, _to_ids

#: Distances handled at once, ``query_chunk * gallery_chunk`` (about 25
#: bytes of temporaries each, so about 400 MB).
BLOCK_ELEMENTS = 1 << 24


class MatrixDistances:
    """Blocks of a ready ``(Q, G)`` distance matrix.

    Args:
        distmat (Tensor): ``(Q, G)`` distances, smaller is more similar.
    """

    def __init__(self, distmat: Tensor) -> None:
        if distmat.dim() != 2 or 0 in distmat.shape:
            raise ValueError('distmat must be a non-empty (Q, G) matrix, got '
                             f'shape {tuple(distmat.shape)}.')
        self.distmat = distmat
        self.num_query, self.num_gallery = distmat.shape
        self.device = distmat.device

    def block(self, q0: int, q1: int, g0: int, g1: int) -> Tensor:
        """``(q1 - q0, g1 - g0)`` distances, a copy the caller may modify.
        """
        return self.distmat[q0:q1, g0:g1].clone()

    def pairs(self, q_index: Tensor, g_index: Tensor) -> Tensor:
        """``(C, K)`` distances of query ``q_index[i]`` to ``g_index[i, j]``.
        """
        return self.distmat[q_index[:, None], g_index]


class FeatureDistances:
    """Blocks of query-gallery distances computed from features.

    The gallery is converted to float32 (and L2-normalised when asked) one
    block at a time, so ``gallery_feats`` may be float16 and is never
    copied as a whole.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features, any floating
            dtype.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        normalize (bool): L2-normalise the features (always done for
            ``'cosine'``). Defaults to True.
    """

    def __init__(self,
                 query_feats: Tensor,
                 gallery_feats: Tensor,
                 dist_metric: DistMetric = 'euclidean',
                 normalize: bool = True) -> None:
        check_feature_pair(
            query_feats,
            gallery_feats, ('query_feats', 'gallery_feats'),
            allow_empty=False)
        self.dist_metric = check_dist_metric(dist_metric, 'dist_metric')
        self.normalize = bool(normalize) or dist_metric == 'cosine'
        self.query_feats = self._prepare(query_feats)
        self.gallery_feats = gallery_feats
        self.num_query = query_feats.shape[0]
        self.num_gallery = gallery_feats.shape[0]
        self.device = query_feats.device

    def _prepare(self, feats: Tensor) -> Tensor:
        feats = feats.float()
        return F.normalize(feats, dim=1) if self.normalize else feats

    def block(self, q0: int, q1: int, g0: int, g1: int) -> Tensor:
        """``(q1 - q0, g1 - g0)`` float32 distances."""
        return pairwise_distance(
            self.query_feats[q0:q1],
            self._prepare(self.gallery_feats[g0:g1]),
            self.dist_metric,
            normalized=True)

    def pairs(self, q_index: Tensor, g_index: Tensor) -> Tensor:
        """``(C, K)`` distances of query ``q_index[i]`` to ``g_index[i, j]``.
        """
        query = self.query_feats[q_index]
        gallery = self._prepare(self.gallery_feats[g_index.reshape(-1)])
        gallery = gallery.view(*g_index.shape, -1)
        dot = torch.einsum('cd,ckd->ck', query, gallery)
        if self.dist_metric == 'cosine':
            return (1 - dot).clamp_(min=0)
        sq = query.pow(2).sum(1)[:, None] + gallery.pow(2).sum(2) - 2 * dot
        return sq.clamp_(min=0).sqrt_()


def chunk_sizes(num_gallery: int,
                query_chunk: int = 256,
                gallery_chunk: Optional[int] = None) -> Tuple[int, int]:
    """Check the chunk sizes; the default gallery chunk fills
    :data:`BLOCK_ELEMENTS`.

    Args:
        num_gallery (int): G.
        query_chunk (int): C. Defaults to 256.
        gallery_chunk (int, optional): B. Defaults to None
            (``BLOCK_ELEMENTS // C``).

    Returns:
        tuple[int, int]: ``(C, B)``.
    """
    query_chunk = check_positive_int(query_chunk, 'query_chunk')
    if gallery_chunk is None:
        gallery_chunk = max(1, BLOCK_ELEMENTS // query_chunk)
    gallery_chunk = check_positive_int(gallery_chunk, 'gallery_chunk')
    return query_chunk, min(gallery_chunk, num_gallery)


def _count_before(block: Tensor, cand_dist: Tensor, cand_index: Tensor,
                  g0: int, hist: Tensor) -> None:
    """Add one gallery block to the per-candidate counts of closer images.

    For every image ``v`` of the block, ``p(v)`` is the number of a row's
    candidates ``e`` that come before or at ``v`` in the stable order
    (``(d(e), e) <= (d(v), v)``); ``v`` comes before exactly the candidates
    at sorted positions ``>= p(v)``, so a histogram of ``p`` accumulated
    over the gallery and summed cumulatively gives the rank of every
    candidate. Images farther than a row's last candidate come before none
    and are skipped: with real features they are most of the gallery.

    Args:
        block (Tensor): ``(C, B)`` finite distances of gallery images
            ``g0 .. g0 + B - 1``.
        cand_dist (Tensor): ``(C, K)`` candidate distances sorted in the
            stable order, ``inf`` in padding slots.
        cand_index (Tensor): ``(C, K)`` their gallery indices (a value
            ``>= G`` in padding slots).
        g0 (int): Gallery index of the block's first image.
        hist (Tensor): ``(C, K + 1)`` int64 counts, updated in place.
    """
    num_rows, width = cand_dist.shape
    last = cand_dist.masked_fill(torch.isinf(cand_dist), -float('inf'))
    near = (block <= last.amax(1, keepdim=True)).view(-1).nonzero()
    near = near.squeeze(1)
    rows = torch.div(near, block.shape[1], rounding_mode='floor')
    index = near % block.shape[1] + g0
    value = block.view(-1)[near]
    # Each near image is compared with its row's candidates, in batches of
    # bounded size; distance ties are broken by the gallery index.
    step = max(1, BLOCK_ELEMENTS // width)
    for lo in range(0, near.numel(), step):
        r = rows[lo:lo + step]
        v = value[lo:lo + step, None]
        i = index[lo:lo + step, None]
        d, e = cand_dist[r], cand_index[r]
        pos = ((d < v) | ((d == v) & (e <= i))).sum(1)
        hist.view(-1).index_add_(0,
                                 r * (width + 1) + pos, torch.ones_like(pos))


def _check_finite(block: Tensor) -> None:
    if not bool(torch.isfinite(block).all()):
        raise ValueError('Distances must be finite; found NaN or infinite '
                         'values (check the features for NaN / inf).')


def chunked_rank(dists,
                 q_pids: Tensor,
                 g_pids: Tensor,
                 q_camids: Tensor,
                 g_camids: Tensor,
                 max_rank: int = 50,
                 query_chunk: int = 256,
                 gallery_chunk: Optional[int] = None) -> dict:
    """Exact mAP, CMC and mINP, query chunks x gallery chunks.

    The numbers of :func:`~mmpha.evaluation.functional.reference_rank`
    (stable sort, same-id same-camera images deleted), with at most
    ``C x B`` distances in memory (see the module documentation).

    Args:
        dists (MatrixDistances | FeatureDistances): Source of distance
            blocks and candidate distances.
        q_pids (Tensor): ``(Q, )`` int64 query ids.
        g_pids (Tensor): ``(G, )`` int64 gallery ids.
        q_camids (Tensor): ``(Q, )`` int64 query cameras.
        g_camids (Tensor): ``(G, )`` int64 gallery cameras.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        query_chunk (int): C. Defaults to 256.
        gallery_chunk (int, optional): B. Defaults to None
            (:data:`BLOCK_ELEMENTS` ``// C``).

    Returns:
        dict: As :func:`~mmpha.evaluation.functional.evaluate_rank`.

    Raises:
        ValueError: On non-finite distances, bad chunk sizes, or if no
            query has a valid match.
    """
    max_rank = check_positive_int(max_rank, 'max_rank')
    num_query, num_gallery = dists.num_query, dists.num_gallery
    query_chunk, gallery_chunk = chunk_sizes(num_gallery, query_chunk,
                                             gallery_chunk)
    acc = RankAccumulator(g_pids, g_camids, max_rank)
    for q0 in range(0, num_query, query_chunk):
        q1 = min(q0 + query_chunk, num_query)
        cand, valid = acc.candidates(q_pids[q0:q1])
        if cand.shape[1] == 0:
            acc.num_queries += q1 - q0
            continue
        q_index = torch.arange(q0, q1, device=cand.device)
        cand_dist = dists.pairs(q_index, cand).float()
        _check_finite(cand_dist[valid])
        # Candidates in the stable order: cand is in gallery order, so a
        # stable sort on distance breaks ties by gallery index.
        cand_dist = cand_dist.masked_fill(~valid, float('inf'))
        cand_dist, order = torch.sort(cand_dist, dim=1, stable=True)
        cand = cand.gather(1, order)
        valid = valid.gather(1, order)
        cand_index = cand.masked_fill(~valid, num_gallery)
        hist = torch.zeros(
            q1 - q0, cand.shape[1] + 1, dtype=torch.long, device=cand.device)
        rows = valid.nonzero()
        for g0 in range(0, num_gallery, gallery_chunk):
            g1 = min(g0 + gallery_chunk, num_gallery)
            block = dists.block(q0, q1, g0, g1).float()
            _check_finite(block)
            # One source for every distance: the candidates' own entries.
            index = cand_index[rows[:, 0], rows[:, 1]]
            inside = (index >= g0) & (index < g1)
            r, s = rows[inside, 0], rows[inside, 1]
            block[r, cand[r, s] - g0] = cand_dist[r, s]
            _count_before(block, cand_dist, cand_index, g0, hist)
            del block
        ranks = hist.cumsum(1)[:, :-1]
        acc.add_ranks(ranks, cand, valid, q_camids[q0:q1])
    return acc.result()


def _stable_block_topk(block: Tensor, k: int,
                       g0: int) -> Tuple[Tensor, Tensor]:
    """The k smallest entries of every row, ties by smaller index.

    Args:
        block (Tensor): ``(C, B)`` distances (``inf`` allowed), ``k <= B``.
        k (int): Entries per row.
        g0 (int): Index offset of the block's first column.

    Returns:
        tuple[Tensor, Tensor]: ``(C, k)`` distances in ascending order and
        their ``(C, k)`` int64 indices (offset by ``g0``).
    """
    num_rows = block.shape[0]
    kth = block.topk(k, dim=1, largest=False, sorted=True).values[:, -1:]
    # Everything up to the k-th value; ties at it may add a few entries,
    # and row-major order lists each row's columns in ascending order.
    rows, cols = (block <= kth).nonzero(as_tuple=True)
    values = block[rows, cols]
    order = torch.sort(values, stable=True).indices
    order = order[torch.sort(rows[order], stable=True).indices]
    rows, cols, values = rows[order], cols[order], values[order]
    counts = torch.bincount(rows, minlength=num_rows)
    start = counts.cumsum(0) - counts
    keep = (torch.arange(rows.numel(), device=rows.device) - start[rows]) < k
    return (values[keep].view(num_rows,
                              k), (cols[keep] + g0).view(num_rows, k))


def chunked_topk(dists,
                 topk: int = 10,
                 query_chunk: int = 256,
                 gallery_chunk: Optional[int] = None,
                 exclude: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The k nearest gallery images of every query, by gallery chunks.

    Equal distances are ordered by gallery index (a stable sort), as in
    the reference ranking.

    Args:
        dists (MatrixDistances | FeatureDistances): Source of blocks.
        topk (int): Neighbours per query; ``k = min(topk, G)``. Defaults to
            10.
        query_chunk (int): C. Defaults to 256.
        gallery_chunk (int, optional): B. Defaults to None.
        exclude (Tensor, optional): Bool ``(Q, G)`` pairs never returned
            before the others (their distance becomes ``inf``). Defaults to
            None.

    Returns:
        tuple[Tensor, Tensor]: ``(Q, k)`` distances in ascending order and
        ``(Q, k)`` int64 gallery indices.
    """
    topk = check_positive_int(topk, 'topk')
    num_query, num_gallery = dists.num_query, dists.num_gallery
    query_chunk, gallery_chunk = chunk_sizes(num_gallery, query_chunk,
                                             gallery_chunk)
    k = min(topk, num_gallery)
    all_values, all_index = [], []
    for q0 in range(0, num_query, query_chunk):
        q1 = min(q0 + query_chunk, num_query)
        best_values = best_index = None
        for g0 in range(0, num_gallery, gallery_chunk):
            g1 = min(g0 + gallery_chunk, num_gallery)
            block = dists.block(q0, q1, g0, g1).float()
            if exclude is not None:
                block.masked_fill_(exclude[q0:q1, g0:g1].to(block.device),
                                   float('inf'))
            values, index = _stable_block_topk(block, min(k, g1 - g0), g0)
            if best_values is not None:
                # Earlier blocks hold the smaller indices: a stable sort
                # of the concatenation keeps ties in gallery order.
                values = torch.cat([best_values, values], 1)
                index = torch.cat([best_index, index], 1)
                values, order = torch.sort(values, dim=1, stable=True)
                values, index = values[:, :k], index.gather(1, order[:, :k])
            best_values, best_index = values, index
        all_values.append(best_values)
        all_index.append(best_index)
    return torch.cat(all_values), torch.cat(all_index)


def evaluate_chunked(query_feats: Tensor,
                     gallery_feats: Tensor,
                     q_pids: ArrayLike,
                     g_pids: ArrayLike,
                     q_camids: ArrayLike,
                     g_camids: ArrayLike,
                     dist_metric: DistMetric = 'euclidean',
                     norm_feat: bool = True,
                     max_rank: int = 50,
                     query_chunk: int = 256,
                     gallery_chunk: Optional[int] = None) -> dict:
    """Exact mAP, CMC and mINP from features, in bounded memory.

    The numbers of :func:`~mmpha.evaluation.functional.evaluate` without
    re-ranking, computed by :func:`chunked_rank`: peak memory is the
    features plus about ``25 * C * B`` bytes, whatever G. The gallery
    features are read one chunk at a time, so they may be float16 (half
    the memory; the distances are computed in float32).

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features, in dataset
            order (the gallery order breaks distance ties).
        q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
        g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
        q_camids (numpy.ndarray | Tensor): ``(Q, )`` query cameras.
        g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery cameras.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        norm_feat (bool): L2-normalise the features. Defaults to True.
        max_rank (int): As for :func:`chunked_rank`, like the two chunk
            sizes. Defaults to 50.
        query_chunk (int): Queries per block. Defaults to 256.
        gallery_chunk (int, optional): Gallery images per block. Defaults
            to None.

    Returns:
        dict: What :func:`chunked_rank` returns.

    Examples:
        The numbers of ``evaluate``, one gallery image per block:

        >>> import torch
        >>> from mmpha.evaluation.functional import evaluate
        >>> q = torch.tensor([[1., 0.]])
        >>> g = torch.tensor([[1., .1], [0., 1.]])
        >>> ids = dict(q_pids=[7], g_pids=[7, 8], q_camids=[0],
        ...            g_camids=[1, 1])
        >>> out = evaluate_chunked(q, g, **ids, max_rank=2, gallery_chunk=1)
        >>> ref = evaluate(q, g, **ids, max_rank=2)
        >>> out['mAP'] == ref['mAP'], bool((out['CMC'] == ref['CMC']).all())
        (True, True)
    """
    dists = FeatureDistances(query_feats, gallery_feats, dist_metric,
                             norm_feat)
    device = dists.device
    return chunked_rank(
        dists,
        _to_ids(q_pids, 'q_pids', dists.num_query, device),
        _to_ids(g_pids, 'g_pids', dists.num_gallery, device),
        _to_ids(q_camids, 'q_camids', dists.num_query, device),
        _to_ids(g_camids, 'g_camids', dists.num_gallery, device),
        max_rank=max_rank,
        query_chunk=query_chunk,
        gallery_chunk=gallery_chunk)
