"""The large-gallery modes of :class:`~mmpha.evaluation.ReIDMetric`.

Option checks and the two evaluations that do not go through
:func:`~mmpha.evaluation.functional.evaluate`: ``'exact_chunked'`` (exact,
bounded memory) and ``'approximate'`` (faiss top-k lists, reported under
``approx_`` names). Symbols: ``Q`` queries, ``G`` gallery images, ``D``
feature width.
"""
import logging
from typing import Dict, Optional

from mmengine.logging import print_log
from torch import Tensor

from mmpha.utils import check_positive_int
from ..functional import evaluate_chunked, faiss_topk, topk_metrics

LARGE_SCALE_MODES = ('auto', 'full', 'exact_chunked', 'approximate')


def check_large_scale_args(mode: str, rerank: bool, chunked_above: int,
                           gallery_chunk_size: Optional[int], approx_topk: int,
                           approx_index: str,
                           rerank_max_memory: Optional[float]) -> dict:
    """Check the large-gallery options of ``ReIDMetric``.

    Returns:
        dict: The options, ``rerank_max_memory`` converted to bytes.

    Raises:
        ValueError: On an unknown mode, re-ranking with a mode that does not
            support it, or a bad size.
    """
    if mode not in LARGE_SCALE_MODES:
        raise ValueError(f'mode must be one of {LARGE_SCALE_MODES}, got '
                         f'{mode!r}.')
    if rerank and mode in ('exact_chunked', 'approximate'):
        raise ValueError(f"mode={mode!r} does not re-rank; use mode='full' "
                         "or 'auto' with rerank=True.")
    if gallery_chunk_size is not None:
        check_positive_int(gallery_chunk_size, 'gallery_chunk_size')
    if not isinstance(approx_index, str) or not approx_index:
        raise ValueError('approx_index must be a faiss index factory string, '
                         f'got {approx_index!r}.')
    if rerank_max_memory is not None and not (isinstance(
            rerank_max_memory, (int, float)) and rerank_max_memory > 0):
        raise ValueError('rerank_max_memory must be a positive number of '
                         f'GiB or None, got {rerank_max_memory!r}.')
    return dict(
        mode=mode,
        rerank=bool(rerank),
        chunked_above=check_positive_int(chunked_above, 'chunked_above'),
        gallery_chunk_size=gallery_chunk_size,
        approx_topk=check_positive_int(approx_topk, 'approx_topk'),
        approx_index=approx_index,
        rerank_max_memory=(None if rerank_max_memory is None else
                           float(rerank_max_memory) * 2**30))


def resolve_mode(options: dict, num_gallery: int) -> str:
    """The mode actually used for a gallery of ``num_gallery`` images."""
    if options['mode'] != 'auto':
        return options['mode']
    if not options['rerank'] and num_gallery > options['chunked_above']:
        return 'exact_chunked'
    return 'full'


def evaluate_large(metric, mode: str, query_feats: Tensor,
                   gallery_feats: Tensor, q_pids: Tensor, g_pids: Tensor,
                   q_camids: Tensor, g_camids: Tensor) -> Dict[str, float]:
    """Evaluate in ``'exact_chunked'`` or ``'approximate'`` mode.

    Args:
        metric (ReIDMetric): The metric (its options are read).
        mode (str): ``'exact_chunked'`` or ``'approximate'``.
        query_feats (Tensor): ``(Q, D)`` features, normalised as the
            metric asks.
        gallery_feats (Tensor): ``(G, D)`` features, same.
        q_pids (Tensor): ``(Q, )`` int64 query ids.
        g_pids (Tensor): ``(G, )`` int64 gallery ids.
        q_camids (Tensor): ``(Q, )`` int64 query cameras.
        g_camids (Tensor): ``(G, )`` int64 gallery cameras.

    Returns:
        dict[str, float]: Percentages; ``mAP``, ``mINP``, ``R{k}`` for
        ``'exact_chunked'``, ``approx_mAP`` and ``approx_R{k}`` for
        ``'approximate'``.
    """
    options = metric.large_scale
    num_query, num_gallery = query_feats.shape[0], gallery_feats.shape[0]
    if mode == 'exact_chunked':
        values = evaluate_chunked(
            query_feats,
            gallery_feats,
            q_pids,
            g_pids,
            q_camids,
            g_camids,
            dist_metric=metric.dist_metric,
            norm_feat=False,
            max_rank=metric.max_rank,
            query_chunk=metric.chunk_size,
            gallery_chunk=options['gallery_chunk_size'])
        prefix, how = '', 'exact, chunked gallery'
    else:
        _, indices = faiss_topk(
            query_feats,
            gallery_feats,
            topk=options['approx_topk'],
            dist_metric=metric.dist_metric,
            normalize=False,
            index_factory=options['approx_index'])
        values = topk_metrics(indices, q_pids, g_pids, q_camids, g_camids,
                              metric.max_rank)
        prefix = 'approx_'
        how = (f'APPROXIMATE: faiss {options["approx_index"]!r} top-'
               f'{values["topk"]} lists; AP truncated at the list, no mINP')
    num_skipped = values['num_queries'] - values['num_valid_queries']
    print_log(
        f'ReIDMetric ({how}): {num_query} queries, {num_gallery} gallery '
        f'images; {num_skipped} queries have no valid gallery match and are '
        'skipped.',
        logger='current',
        level=logging.WARNING if num_skipped or prefix else logging.INFO)
    results: Dict[str, float] = {}
    if 'mAP' in metric.metrics:
        results[f'{prefix}mAP'] = float(values['mAP']) * 100
    if 'mINP' in metric.metrics and 'mINP' in values:
        results['mINP'] = float(values['mINP']) * 100
    if 'CMC' in metric.metrics:
        for k in metric.ranks:
            results[f'{prefix}R{k}'] = float(values['CMC'][k - 1]) * 100
    return results
