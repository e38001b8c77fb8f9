"""The re-ID evaluation protocol as plain functions, usable without an
Evaluator: distances, the reference and the fast ranking, mAP / CMC /
mINP, and k-reciprocal re-ranking."""
from mmpha.utils import DistMetric, pairwise_distance
from .fast_ranking import RankAccumulator, rank_summary
from .ranking import (check_rank_inputs, evaluate, evaluate_rank,
                      iter_distances, reference_rank)
from .rerank import check_rerank_args, iter_re_ranking, re_ranking
from .vehicleid_protocol import evaluate_vehicleid, vehicleid_split

__all__ = [
    'DistMetric', 'pairwise_distance', 'RankAccumulator', 'rank_summary',
    'check_rank_inputs', 'evaluate', 'evaluate_rank', 'iter_distances',
    'reference_rank', 'check_rerank_args', 'iter_re_ranking', 're_ranking',
    'evaluate_vehicleid', 'vehicleid_split'
]
