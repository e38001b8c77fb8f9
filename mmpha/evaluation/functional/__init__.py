"""The re-ID evaluation protocol as plain functions, usable without an
Evaluator: distances, the reference and the fast ranking, mAP / CMC /
mINP, and k-reciprocal re-ranking."""
from mmpha.utils import DistMetric, pairwise_distance
from .approximate import faiss_available, faiss_topk, topk_metrics
from .fast_ranking import RankAccumulator, rank_summary
from .large_scale import (FeatureDistances, MatrixDistances, chunked_rank,
                          chunked_topk, evaluate_chunked)
from .ranking import (check_rank_inputs, evaluate, evaluate_rank,
                      iter_distances, reference_rank)
from .rerank import (check_rerank_args, check_rerank_memory, iter_re_ranking,
                     re_ranking, rerank_memory)

__all__ = [
    'DistMetric', 'pairwise_distance', 'RankAccumulator', 'rank_summary',
    'check_rank_inputs', 'evaluate', 'evaluate_rank', 'iter_distances',
    'reference_rank', 'check_rerank_args', 'iter_re_ranking', 're_ranking',
    'FeatureDistances', 'MatrixDistances', 'chunked_rank', 'chunked_topk',
    'evaluate_chunked', 'faiss_available', 'faiss_topk', 'topk_metrics',
    'check_rerank_memory', 'rerank_memory'
]
