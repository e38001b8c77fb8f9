from .dump_results import DumpReIDResults, append_metrics_to_dump
from .reid_metric import ReIDMetric
from .rerank import iter_re_ranking, re_ranking

__all__ = [
    'DumpReIDResults', 'append_metrics_to_dump', 'ReIDMetric', 're_ranking',
    'iter_re_ranking'
]
