"""The re-ID evaluation protocol as plain functions, usable without an
Evaluator: distances, the reference and the fast ranking, mAP / CMC /
mINP, k-reciprocal re-ranking, average query expansion, the verification
ROC and the per-camera breakdown."""
from mmpha.utils import DistMetric, pairwise_distance
from .approximate import faiss_available, faiss_topk, topk_metrics
from .extra_metrics import (DEFAULT_FPRS, PER_CAMERA, CameraBreakdown,
                            ROCAccumulator, check_fprs, evaluate_extras)
from .fast_ranking import RankAccumulator, rank_summary
from .large_scale import (FeatureDistances, MatrixDistances, chunked_rank,
                          chunked_topk, evaluate_chunked)
from .query_expansion import average_query_expansion
from .ranking import (check_rank_inputs, evaluate, evaluate_rank,
                      iter_distances, reference_rank)
from .rerank import (check_rerank_args, check_rerank_memory, iter_re_ranking,
                     re_ranking, rerank_memory)
from .vehicleid_protocol import evaluate_vehicleid, vehicleid_split

__all__ = [
    'DistMetric', 'pairwise_distance', 'RankAccumulator', 'rank_summary',
    'check_rank_inputs', 'evaluate', 'evaluate_rank', 'iter_distances',
    'reference_rank', 'check_rerank_args', 'iter_re_ranking', 're_ranking',
    'evaluate_vehicleid', 'vehicleid_split'
]

# The ReIDMetric options: query expansion, ROC, per-camera breakdown.
__all__ += [
    'PER_CAMERA', 'CameraBreakdown', 'evaluate_extras',
    'average_query_expansion', 'DEFAULT_FPRS', 'ROCAccumulator', 'check_fprs'
]

# Evaluation at scale: chunked and approximate ranking.
__all__ += [
    'FeatureDistances', 'MatrixDistances', 'chunked_rank', 'chunked_topk',
    'evaluate_chunked', 'faiss_available', 'faiss_topk', 'topk_metrics',
    'check_rerank_memory', 'rerank_memory'
]
