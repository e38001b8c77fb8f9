"""Approximate evaluation from top-k lists, with faiss when installed.

faiss is optional (``pip install faiss-cpu``); :func:`faiss_topk` raises an
``ImportError`` that says so when it is missing. Exactness is lost in two
places, which is why :class:`~mmpha.evaluation.ReIDMetric` reports these
numbers under ``approx_`` names:

- the search: any faiss index other than ``'Flat'`` (e.g. ``'IVF4096,Flat'``
  or ``'HNSW32'``) may miss true neighbours;
- the truncation: :func:`topk_metrics` only sees the first k gallery images
  of a query. Positives beyond them count as never found, so the AP is a
  lower bound of the exact AP (equal to it when every positive is in the
  list); the CMC at rank r is exact for ``r <= k`` minus the junk images
  in the list; mINP, which needs the last positive, is not computed.

For exact numbers at any gallery size use
:func:`~mmpha.evaluation.functional.evaluate_chunked`.

Symbols: ``Q`` queries, ``G`` gallery images, ``D`` feature width, ``k``
neighbours per query.
"""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmpha.utils import (DistMetric, check_dist_metric, check_feature_pair,
                         check_positive_int)
from .fast_ranking import RankAccumulator


def faiss_available() -> bool:
    """Whether the optional faiss package can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def faiss_topk(query_feats: Tensor,
               gallery_feats: Tensor,
               topk: int = 100,
               dist_metric: DistMetric = 'euclidean',
               normalize: bool = True,
               index_factory: str = 'Flat',
               nprobe: Optional[int] = None,
               train_size: int = 65536,
               add_chunk: int = 65536) -> Tuple[Tensor, Tensor]:
    """The k nearest gallery images of every query, searched by faiss.

    The gallery is added to the index ``add_chunk`` images at a time
    (converted to float32 chunk by chunk); an index that needs training is
    trained on the first ``train_size`` gallery images. Equal distances
    come in faiss's order, not the stable order of the reference ranking.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        topk (int): Neighbours per query, ``k = min(topk, G)``. Defaults to
            100.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        normalize (bool): L2-normalise the features. Defaults to True.
        index_factory (str): A faiss index factory string. Defaults to
            ``'Flat'`` (exhaustive search).
        nprobe (int, optional): Cells visited by an IVF index. Defaults to
            None (faiss's default).
        train_size (int): Training sample of an index that needs one.
            Defaults to 65536.
        add_chunk (int): Gallery images added at once. Defaults to 65536.

    Returns:
        tuple[Tensor, Tensor]: ``(Q, k)`` float32 distances (Euclidean or
        one minus cosine) in ascending order and ``(Q, k)`` int64 gallery
        indices (-1 where the index found fewer than k).

    Raises:
        ImportError: If faiss is not installed.
    """
    try:
        import faiss
    except ImportError as err:
        raise ImportError('The approximate search needs faiss: pip install '
                          'faiss-cpu (or faiss-gpu).') from err
    check_feature_pair(
        query_feats,
        gallery_feats, ('query_feats', 'gallery_feats'),
        allow_empty=False)
    check_dist_metric(dist_metric, 'dist_metric')
    topk = check_positive_int(topk, 'topk')
    add_chunk = check_positive_int(add_chunk, 'add_chunk')
    normalize = normalize or dist_metric == 'cosine'

    def prepare(feats: Tensor) -> np.ndarray:
        feats = feats.detach().float().cpu()
        if normalize:
            feats = F.normalize(feats, dim=1)
        return np.ascontiguousarray(feats.numpy())

    dim = query_feats.shape[1]
    kind = (
        faiss.METRIC_INNER_PRODUCT
        if dist_metric == 'cosine' else faiss.METRIC_L2)
    index = faiss.index_factory(dim, index_factory, kind)
    if not index.is_trained:
        index.train(prepare(gallery_feats[:train_size]))
    if nprobe is not None:
        faiss.ParameterSpace().set_index_parameter(index, 'nprobe',
                                                   int(nprobe))
    num_gallery = gallery_feats.shape[0]
    for start in range(0, num_gallery, add_chunk):
        index.add(prepare(gallery_feats[start:start + add_chunk]))
    k = min(topk, num_gallery)
    dists, indices = index.search(prepare(query_feats), k)
    dists = torch.from_numpy(dists)
    if dist_metric == 'cosine':
        dists = (1 - dists).clamp_(min=0)
    else:
        dists = dists.clamp_(min=0).sqrt_()
    return dists, torch.from_numpy(indices).long()


def topk_metrics(indices: Tensor,
                 q_pids: Tensor,
                 g_pids: Tensor,
                 q_camids: Tensor,
                 g_camids: Tensor,
                 max_rank: int = 50) -> dict:
    """mAP and CMC read off top-k lists (truncated, see the module doc).

    Same-id same-camera images in a list are deleted, as in the protocol;
    a query's number of positives is counted over the whole gallery, so a
    positive missing from its list lowers the AP.

    Args:
        indices (Tensor): ``(Q, k)`` gallery indices, nearest first (-1
            for no result).
        q_pids (Tensor): ``(Q, )`` int64 query ids.
        g_pids (Tensor): ``(G, )`` int64 gallery ids.
        q_camids (Tensor): ``(Q, )`` int64 query cameras.
        g_camids (Tensor): ``(G, )`` int64 gallery cameras.
        max_rank (int): Length of the CMC curve. Defaults to 50.

    Returns:
        dict: ``mAP`` (float in [0, 1]), ``CMC`` (``(max_rank, )`` float64
        array), ``num_valid_queries``, ``num_queries`` and ``topk`` (k).

    Raises:
        ValueError: If no query has a positive in the gallery.
    """
    max_rank = check_positive_int(max_rank, 'max_rank')
    acc = RankAccumulator(g_pids, g_camids, max_rank)
    cand, valid = acc.candidates(q_pids)
    num_pos = (valid & (g_camids[cand] != q_camids[:, None])).sum(1)
    found = indices >= 0
    safe = indices.clamp(min=0)
    same_id = found & (g_pids[safe] == q_pids[:, None])
    junk = same_id & (g_camids[safe] == q_camids[:, None])
    positive = same_id & ~junk
    # 0-based rank among the images that remain after deleting the junk.
    ranks = (~junk).long().cumsum(1) - 1
    hits = positive.long().cumsum(1)
    is_valid = num_pos > 0
    if not bool(is_valid.any()):
        raise ValueError(
            f'None of the {q_pids.numel()} queries has a valid match in the '
            'gallery, so mAP / CMC are undefined.')
    # Junk entries may have rank -1; only the positives' precisions count.
    precision = torch.where(positive,
                            hits.double() / (ranks + 1).clamp(min=1).double(),
                            0.0)
    ap = precision.sum(1)[is_valid] / num_pos[is_valid]
    # Queries whose list holds no positive: first hit beyond the curve.
    first = ranks.masked_fill(~positive, max_rank).amin(1)
    first = first.clamp(max=max_rank)[is_valid]
    hist = torch.bincount(first, minlength=max_rank + 1)
    num_valid = int(is_valid.sum())
    return dict(
        mAP=float(ap.sum()) / num_valid,
        CMC=hist[:max_rank].cumsum(0).double().numpy() / num_valid,
        num_valid_queries=num_valid,
        num_queries=q_pids.numel(),
        topk=indices.shape[1])
