from ..functional import iter_re_ranking, re_ranking
from .dump_results import (DumpReIDResults, append_metrics_to_dump,
                           check_output_file)
from .multi_test_set_metric import MultiTestSetMetric
from .reid_metric import ReIDMetric
from .vehicleid_metric import VehicleIDMetric

__all__ = [
    'DumpReIDResults', 'append_metrics_to_dump', 'check_output_file',
    'ReIDMetric', 're_ranking', 'iter_re_ranking', 'VehicleIDMetric',
    'MultiTestSetMetric'
]
