"""High-level APIs: model initialisation, feature extraction, search,
analysis, benchmarks and deployment."""
from .attention import (attention_maps, attention_rollout, attention_rows,
                        collect_attentions, default_methods, grad_cam,
                        normalize_maps, tokens_to_pixels)
from .benchmark import (DEFAULT_STAGES, StageProfiler, TrainStepBenchmark,
                        benchmark_inference, benchmark_metric,
                        benchmark_train_pair, benchmark_train_step,
                        build_benchmark_model, current_rss_mib, input_size_of,
                        make_rank_data, make_reid_batch, model_config,
                        peak_rss_mib, stage_breakdown, strip_pretrained)
from .complexity import get_complexity, human_size, inference_parameters
from .deployment import InferenceWrapper, OnnxCheck, export_onnx, verify_onnx
from .embedding import (dump_test_features, embed_2d, embedding_table,
                        write_embedding_csv)
from .frequency_analysis import (build_frequency_neck, build_query_dataset,
                                 compare_frequency_similarity,
                                 dataset_hf_lf_similarity, default_labels,
                                 evenly_spaced, frequency_panel,
                                 frequency_similarity_curves, group_means,
                                 hf_lf_similarity, layer_tokens,
                                 write_curves_csv, write_curves_long_csv)
from .inference import (build_test_pipeline, extract_features, init_model,
                        iter_batches, pairwise_distance, search)
from .log_analysis import (TrainingLog, curves_of, load_json_log,
                           train_time_stats)
from .ranking import RankedLists, load_dump, rank_dump
from .robustness import (corrupt_test_config, evaluate_test_set,
                         robustness_benchmark)

__all__ = [
    'init_model', 'extract_features', 'iter_batches', 'search',
    'pairwise_distance', 'build_test_pipeline', 'load_dump', 'rank_dump',
    'RankedLists', 'InferenceWrapper', 'OnnxCheck', 'export_onnx',
    'verify_onnx', 'benchmark_inference', 'build_frequency_neck',
    'build_query_dataset', 'dataset_hf_lf_similarity', 'default_labels',
    'evenly_spaced', 'frequency_panel', 'frequency_similarity_curves',
    'get_complexity', 'human_size', 'group_means', 'hf_lf_similarity',
    'inference_parameters', 'layer_tokens', 'write_curves_csv',
    'DEFAULT_STAGES', 'StageProfiler', 'TrainStepBenchmark',
    'benchmark_train_pair', 'benchmark_train_step', 'build_benchmark_model',
    'current_rss_mib', 'input_size_of', 'make_reid_batch', 'model_config',
    'peak_rss_mib', 'stage_breakdown', 'strip_pretrained', 'benchmark_metric',
    'make_rank_data', 'attention_maps', 'attention_rows', 'attention_rollout',
    'collect_attentions', 'default_methods', 'grad_cam', 'normalize_maps',
    'tokens_to_pixels', 'compare_frequency_similarity',
    'write_curves_long_csv', 'dump_test_features', 'embed_2d',
    'embedding_table', 'write_embedding_csv', 'TrainingLog', 'curves_of',
    'load_json_log', 'train_time_stats', 'corrupt_test_config',
    'evaluate_test_set', 'robustness_benchmark'
]
