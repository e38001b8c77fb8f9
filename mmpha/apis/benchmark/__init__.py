"""Benchmarks of re-ID models: training steps and inference throughput.

- :mod:`.timing`: clocks (CUDA events or ``perf_counter``), medians and
  memory readings shared by the benchmarks;
- :mod:`.inputs`: a random-initialised model of a config and a fixed
  synthetic P x K batch;
- :mod:`.stage_profiler`: a training step split into named stages;
- :mod:`.train_step`: warm-up, timed and profiled training steps of one
  config or of two configs interleaved;
- :mod:`.inference`: inference throughput;
- :mod:`.metric`: the metric's ranking against a reference, on random data.
"""
from .inference import benchmark_inference
from .inputs import (build_benchmark_model, input_size_of, make_reid_batch,
                     model_config, strip_pretrained)
from .metric import benchmark_metric, make_rank_data
from .stage_profiler import DEFAULT_STAGES, StageProfiler
from .timing import current_rss_mib, peak_rss_mib
from .train_step import (TrainStepBenchmark, benchmark_train_pair,
                         benchmark_train_step, stage_breakdown)

__all__ = [
    'benchmark_inference', 'build_benchmark_model', 'input_size_of',
    'make_reid_batch', 'model_config', 'strip_pretrained', 'DEFAULT_STAGES',
    'StageProfiler', 'current_rss_mib', 'peak_rss_mib', 'TrainStepBenchmark',
    'benchmark_train_pair', 'benchmark_train_step', 'stage_breakdown',
    'benchmark_metric', 'make_rank_data'
]
