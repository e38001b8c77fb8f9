"""k-reciprocal re-ranking of person re-ID retrieval results.

Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017. The final distance of query ``p`` to gallery image
``g`` is ``(1 - lambda) * d_J(p, g) + lambda * d(p, g)`` (Sec. 3.5), where
``d`` is the original distance (divided by the largest distance of ``p``'s
row, as in the authors' code) and ``d_J`` the Jaccard distance between the
k-reciprocal feature vectors of ``p`` and ``g`` (Secs. 3.2-3.4). Query and
gallery images together form the set in which neighbours are searched.

The authors' implementation holds several ``(N, N)`` matrices for the
``N = Q + G`` images (about 35 GB per float32 matrix for MSMT17). This one
never does: distances are computed ``chunk_size`` rows at a time, only the
``max(k1 + 1, k2)`` nearest neighbours of each image are kept, and the
k-reciprocal vectors, which have a few dozen non-zeros per row, are stored
sparsely. Peak memory, with D the feature width and ``c = chunk_size``:

- features: ``N * D * 4`` bytes;
- one distance chunk with its top-k search: about ``2 * c * N * 4`` bytes;
- neighbour lists: ``N * max(k1 + 1, k2) * 8`` bytes;
- sparse k-reciprocal vectors: ``20`` bytes per non-zero, about
  ``N * k2 * 2 * k1`` non-zeros at most in practice after query expansion;
- the Jaccard step: about ``3 * c * G * 4`` bytes plus at most
  ``2 ** 24`` index pairs (about 400 MB) at a time.

For MSMT17 (N = 93,820, D = 768, c = 256) that is well under 2 GB, while
the running time is dominated by the ``O(N^2 D)`` distance computation.
Equal distances among the nearest neighbours are ordered as
:func:`torch.topk` returns them, which is unspecified; with real features
such ties do not occur.
"""
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmpha.utils import (DistMetric, check_dist_metric, check_feature_pair,
                         check_positive_int, pairwise_distance)
from ._indexing import budget_batches, segment_indices

# Upper bound on the index pairs the sparse Jaccard step materialises at
# once (each pair costs about 24 bytes of temporaries).
_PAIR_BUDGET = 1 << 24

#: Default limit of :func:`iter_re_ranking`'s estimated peak memory, bytes.
DEFAULT_MAX_MEMORY = 8 * 2**30


def rerank_memory(num_query: int,
                  num_gallery: int,
                  dim: int,
                  k1: int = 20,
                  k2: int = 6,
                  chunk_size: int = 256) -> dict:
    """Estimated peak memory of :func:`iter_re_ranking`, term by term.

    The terms of the module documentation, with the sparse vectors sized
    for ``2 * (k1 + 1)`` non-zeros per row before the query expansion and
    ``k2`` times as many after it (an upper estimate).

    Args:
        num_query (int): Q.
        num_gallery (int): G.
        dim (int): D.
        k1 (int): Re-ranking neighbourhood size. Defaults to 20.
        k2 (int): Query-expansion size. Defaults to 6.
        chunk_size (int): Rows processed at once. Defaults to 256.

    Returns:
        dict[str, int]: Bytes of ``features``, ``distance_chunk``,
        ``neighbours``, ``sparse_vectors``, ``jaccard`` and their
        ``total``.
    """
    num_all = num_query + num_gallery
    row_nnz = min(num_all, 2 * (k1 + 1))
    terms = dict(
        features=num_all * dim * 4,
        distance_chunk=2 * chunk_size * num_all * 4,
        neighbours=num_all * min(max(k1 + 1, k2), num_all) * 10,
        sparse_vectors=num_all * min(num_all, row_nnz * max(k2, 1)) * 20,
        jaccard=3 * chunk_size * num_gallery * 4 + _PAIR_BUDGET * 24)
    terms['total'] = sum(terms.values())
    return terms


def check_rerank_memory(num_query: int,
                        num_gallery: int,
                        dim: int,
                        k1: int = 20,
                        k2: int = 6,
                        chunk_size: int = 256,
                        max_memory: Optional[float] = DEFAULT_MAX_MEMORY
                        ) -> int:
    """Raise before re-ranking whose estimated memory exceeds a limit.

    Args:
        num_query (int): Q, as for :func:`rerank_memory` (like the
            arguments up to ``chunk_size``).
        num_gallery (int): G.
        dim (int): D.
        k1 (int): Defaults to 20.
        k2 (int): Defaults to 6.
        chunk_size (int): Defaults to 256.
        max_memory (float, optional): Limit in bytes; None disables the
            check. Defaults to :data:`DEFAULT_MAX_MEMORY` (8 GiB).

    Returns:
        int: The estimated total, in bytes.

    Raises:
        MemoryError: If the estimate exceeds ``max_memory``; the message
            gives the estimate, its largest terms and the ways out.
    """
    terms = rerank_memory(num_query, num_gallery, dim, k1, k2, chunk_size)
    total = terms['total']
    if max_memory is not None and total > max_memory:
        gib = 2**30
        parts = ', '.join(f'{name} {value / gib:.1f} GiB'
                          for name, value in terms.items() if name != 'total')
        raise MemoryError(
            f'k-reciprocal re-ranking of {num_query} queries and '
            f'{num_gallery} gallery images ({dim}-d features, k1={k1}, '
            f'k2={k2}, chunk_size={chunk_size}) would need about '
            f'{total / gib:.1f} GiB ({parts}), more than the limit of '
            f'{max_memory / gib:.1f} GiB. Raise the limit (ReIDMetric('
            'rerank_max_memory=...) in GiB, or max_memory=... in bytes), '
            'or evaluate without re-ranking, which is exact at any gallery '
            "size (ReIDMetric(mode='exact_chunked')).")
    return total


def check_rerank_args(k1: int, k2: int, lambda_value: float) -> None:
    """Validate the re-ranking hyper-parameters.

    Args:
        k1 (int): Size of the k-reciprocal neighbourhood, ``>= 1``.
        k2 (int): Size of the query expansion, ``>= 1``.
        lambda_value (float): Weight of the original distance, in [0, 1].

    Raises:
        ValueError: If a value is out of range or of the wrong type.
    """
    check_positive_int(k1, 'k1')
    check_positive_int(k2, 'k2')
    if isinstance(lambda_value, bool) or not isinstance(
            lambda_value, (int, float)) or not 0 <= lambda_value <= 1:
        raise ValueError(
            f'lambda_value must be a number in [0, 1], got {lambda_value!r}.')


def _row_pointers(rows: Tensor, num_rows: int) -> Tensor:
    """CSR row pointers (``(num_rows + 1, )``) of row-sorted entries."""
    counts = torch.bincount(rows, minlength=num_rows)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _base_distance(x: Tensor, y: Tensor, dist_metric: DistMetric) -> Tensor:
    # The paper's original distance is the squared (Mahalanobis, here
    # Euclidean) distance; for L2-normalised features it equals twice the
    # cosine distance, a factor the row normalisation removes. Features are
    # already unit length for 'cosine' (normalised once, up front).
    return pairwise_distance(
        x,
        y,
        'sqeuclidean' if dist_metric == 'euclidean' else 'cosine',
        normalized=True)


def _pair_distance(feats: Tensor, rows: Tensor, cols: Tensor,
                   dist_metric: DistMetric) -> Tensor:
    """Distance of ``feats[rows[i]]`` to ``feats[cols[i]]`` for every i."""
    a, b = feats[rows], feats[cols]
    if dist_metric == 'cosine':
        dist = 1 - (a * b).sum(1)
    else:
        dist = a.pow(2).sum(1) + b.pow(2).sum(1) - 2 * (a * b).sum(1)
    return dist.clamp(min=0).masked_fill(rows == cols, 0)


def _reciprocal_mask(ranks: Tensor, k: int, chunk_size: int) -> Tensor:
    """Whether each of the first k neighbours of i has i among its own
    first k neighbours (``(N, k)`` bool)."""
    num = ranks.shape[0]
    mask = torch.empty(num, k, dtype=torch.bool, device=ranks.device)
    for start in range(0, num, chunk_size):
        stop = min(start + chunk_size, num)
        me = torch.arange(start, stop, device=ranks.device)
        back = ranks[ranks[start:stop, :k], :k]
        mask[start:stop] = (back == me[:, None, None]).any(2)
    return mask


def iter_re_ranking(query_feats: Tensor,
                    gallery_feats: Tensor,
                    k1: int = 20,
                    k2: int = 6,
                    lambda_value: float = 0.3,
                    dist_metric: DistMetric = 'euclidean',
                    chunk_size: int = 256,
                    max_memory: Optional[float] = DEFAULT_MAX_MEMORY
                    ) -> Iterator[Tensor]:
    """Re-ranked query-gallery distances, yielded chunk by chunk of queries.

    See the module documentation for the algorithm and its memory use;
    before allocating anything, the estimate of :func:`rerank_memory` is
    checked against ``max_memory`` (:func:`check_rerank_memory`).

    Args:
        query_feats (Tensor): ``(Q, D)`` query features, D the width.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        k1 (int): Size of the k-reciprocal neighbourhood (and twice the
            size used to expand it, Sec. 3.3). Defaults to 20.
        k2 (int): Number of neighbours averaged in the local query
            expansion (Sec. 3.4); 1 disables it. Defaults to 6.
        lambda_value (float): Weight of the original distance (Sec. 3.5).
            Defaults to 0.3.
        dist_metric (str): ``'euclidean'`` (squared Euclidean as the
            original distance) or ``'cosine'``. Defaults to
            ``'euclidean'``.
        chunk_size (int): Rows processed at once. Defaults to 256.
        max_memory (float, optional): Limit of the estimated peak memory,
            in bytes; None disables the check. Defaults to
            :data:`DEFAULT_MAX_MEMORY` (8 GiB).

    Yields:
        Tensor: ``(C, G)`` float32 distances of the next C queries
        (C <= ``chunk_size``), in query order.
    """
    check_rerank_args(k1, k2, lambda_value)
    check_dist_metric(dist_metric, 'dist_metric')
    check_positive_int(chunk_size, 'chunk_size')
    check_feature_pair(
        query_feats,
        gallery_feats, ('query_feats', 'gallery_feats'),
        allow_empty=False)
    check_rerank_memory(query_feats.shape[0], gallery_feats.shape[0],
                        query_feats.shape[1], k1, k2, chunk_size, max_memory)
    feats = torch.cat([query_feats, gallery_feats]).float()
    if dist_metric == 'cosine':
        F.normalize(feats, dim=1, out=feats)
    num_query = query_feats.shape[0]
    num_all = feats.shape[0]
    num_gallery = num_all - num_query
    device = feats.device

    # Nearest neighbours and the row maxima that normalise the distances.
    num_keep = min(max(k1 + 1, k2), num_all)
    ranks = torch.empty(num_all, num_keep, dtype=torch.long, device=device)
    row_max = torch.empty(num_all, device=device)
    for start in range(0, num_all, chunk_size):
        stop = min(start + chunk_size, num_all)
        dist = _base_distance(feats[start:stop], feats, dist_metric)
        # Rounding must not let another image beat the image itself.
        local = torch.arange(stop - start, device=device)
        dist[local, local + start] = 0
        row_max[start:stop] = dist.amax(1)
        ranks[start:stop] = dist.topk(
            num_keep, dim=1, largest=False, sorted=True).indices
        del dist
    row_max.clamp_(min=torch.finfo(row_max.dtype).tiny)

    # R(i, k1) and R(i, k1 / 2) (Secs. 3.2-3.3), as masks over the forward
    # neighbour lists. round() matches the authors' np.around.
    k_full = min(k1 + 1, num_all)
    k_half = min(int(round(k1 / 2)) + 1, num_all)
    rec_full = _reciprocal_mask(ranks, k_full, chunk_size)
    rec_half = _reciprocal_mask(ranks, k_half, chunk_size)
    half_size = rec_half.sum(1)

    # Sparse k-reciprocal feature vectors V, Gaussian-weighted (Sec. 3.3),
    # one chunk of rows at a time, in CSR order.
    v_rows, v_cols, v_vals = [], [], []
    for start in range(0, num_all, chunk_size):
        stop = min(start + chunk_size, num_all)
        n = stop - start
        cand = ranks[start:stop, :k_full]
        cand_ok = rec_full[start:stop]
        cand_half = ranks[cand, :k_half]
        cand_half_ok = rec_half[cand]
        in_r = ((cand_half[..., None] == cand[:, None, None, :])
                & cand_ok[:, None, None, :]).any(-1) & cand_half_ok
        # Add R(c, k1/2) when more than 2/3 of it lies in R(i, k1): strictly
        # more, as in the authors' code (the paper writes >=).
        accept = cand_ok & (3 * in_r.sum(2) > 2 * half_size[cand])
        members = torch.cat([
            cand.masked_fill(~cand_ok, num_all),
            cand_half.masked_fill(~(cand_half_ok & accept[..., None]),
                                  num_all).flatten(1)
        ], 1).sort(1).values
        first = torch.ones(n, 1, dtype=torch.bool, device=device)
        keep = (members < num_all) & torch.cat(
            [first, members[:, 1:] != members[:, :-1]], 1)
        rows = torch.arange(
            start, stop, device=device)[:, None].expand_as(members)[keep]
        cols = members[keep]
        weight = torch.exp(-_pair_distance(feats, rows, cols, dist_metric) /
                           row_max[rows])
        row_sum = torch.zeros(
            n, device=device).index_add_(0, rows - start, weight)
        v_rows.append(rows)
        v_cols.append(cols)
        v_vals.append(weight / row_sum[rows - start])
    rows, cols, vals = torch.cat(v_rows), torch.cat(v_cols), torch.cat(v_vals)
    del v_rows, v_cols, v_vals

    # Local query expansion (Sec. 3.4): average V over the k2 nearest
    # neighbours, the image itself included.
    k_qe = min(k2, num_all)
    if k_qe > 1:
        ptr = _row_pointers(rows, num_all)
        e_rows, e_cols, e_vals = [], [], []
        for start in range(0, num_all, chunk_size):
            stop = min(start + chunk_size, num_all)
            nbr = ranks[start:stop, :k_qe].flatten()
            lengths = ptr[nbr + 1] - ptr[nbr]
            idx = segment_indices(ptr[nbr], lengths)
            local = torch.arange(
                stop - start, device=device).repeat_interleave(k_qe)
            key = torch.repeat_interleave(
                local, lengths, output_size=idx.numel()) * num_all + cols[idx]
            uniq, inverse = torch.unique(key, return_inverse=True)
            summed = torch.zeros(
                uniq.numel(), device=device).index_add_(0, inverse, vals[idx])
            e_rows.append(uniq // num_all + start)
            e_cols.append(uniq % num_all)
            e_vals.append(summed / k_qe)
        rows, cols, vals = (torch.cat(e_rows), torch.cat(e_cols),
                            torch.cat(e_vals))
        del e_rows, e_cols, e_vals
    ptr = _row_pointers(rows, num_all)

    # Gallery rows of V by column, to find the images sharing a non-zero.
    is_gallery = rows >= num_query
    g_cols, order = torch.sort(cols[is_gallery], stable=True)
    g_rows = rows[is_gallery][order] - num_query
    g_vals = vals[is_gallery][order]
    col_ptr = _row_pointers(g_cols, num_all)
    del g_cols, order

    for start in range(0, num_query, chunk_size):
        stop = min(start + chunk_size, num_query)
        n = stop - start
        entries = torch.arange(int(ptr[start]), int(ptr[stop]), device=device)
        e_cols = cols[entries]
        lengths = col_ptr[e_cols + 1] - col_ptr[e_cols]
        # Jaccard overlap (Sec. 3.3) with sparse vectors: the sum of
        # min(V_p, V_g) over the columns both use, accumulated in batches
        # of at most _PAIR_BUDGET index pairs.
        overlap = torch.zeros(n * num_gallery, device=device)
        for lo, hi in budget_batches(lengths, _PAIR_BUDGET):
            batch = entries[lo:hi]
            batch_len = lengths[lo:hi]
            idx = segment_indices(col_ptr[e_cols[lo:hi]], batch_len)
            q_local = torch.repeat_interleave(
                rows[batch] - start, batch_len, output_size=idx.numel())
            q_val = torch.repeat_interleave(
                vals[batch], batch_len, output_size=idx.numel())
            overlap.index_add_(0, q_local * num_gallery + g_rows[idx],
                               torch.minimum(q_val, g_vals[idx]))
        overlap = overlap.view(n, num_gallery)
        jaccard = 1 - overlap / (2 - overlap)
        original = _base_distance(feats[start:stop], feats[num_query:],
                                  dist_metric) / row_max[start:stop, None]
        yield jaccard.mul_(1 - lambda_value).add_(original, alpha=lambda_value)


def re_ranking(query_feats: Tensor,
               gallery_feats: Tensor,
               k1: int = 20,
               k2: int = 6,
               lambda_value: float = 0.3,
               dist_metric: DistMetric = 'euclidean',
               chunk_size: int = 256,
               max_memory: Optional[float] = DEFAULT_MAX_MEMORY) -> Tensor:
    """k-reciprocal re-ranked query-gallery distance matrix.

    The whole ``(Q, G)`` result is materialised; :func:`evaluate` uses
    :func:`iter_re_ranking` instead to rank it chunk by chunk.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features, D the width.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 20.
        k2 (int): Size of the local query expansion. Defaults to 6.
        lambda_value (float): Weight of the original distance.
            Defaults to 0.3.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``.
            Defaults to ``'euclidean'``.
        chunk_size (int): Rows processed at once. Defaults to 256.
        max_memory (float, optional): See :func:`iter_re_ranking`.

    Returns:
        Tensor: ``(Q, G)`` float32 re-ranked distances.

    Examples:
        >>> import torch
        >>> from mmpha.evaluation.functional import re_ranking
        >>> dist = re_ranking(torch.tensor([[0.]]), torch.tensor([[1.], [3.]]),
        ...                   k1=1, k2=1)
        >>> [round(v, 4) for v in dist[0].tolist()]
        [0.1488, 1.0]
    """
    return torch.cat(
        list(
            iter_re_ranking(query_feats, gallery_feats, k1, k2, lambda_value,
                            dist_metric, chunk_size, max_memory)))
