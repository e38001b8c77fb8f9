"""High-level APIs: model initialisation, feature extraction, search,
analysis and deployment."""
from .analysis import (benchmark_inference, build_frequency_neck,
                       build_query_dataset, dataset_hf_lf_similarity,
                       frequency_panel, frequency_similarity_curves,
                       get_complexity, group_means, hf_lf_similarity,
                       inference_parameters, layer_tokens, write_curves_csv)
from .deployment import InferenceWrapper, OnnxCheck, export_onnx, verify_onnx
from .inference import (build_test_pipeline, extract_features, init_model,
                        iter_batches, pairwise_distance, search)
from .ranking import RankedLists, load_dump, rank_dump

__all__ = [
    'init_model', 'extract_features', 'iter_batches', 'search',
    'pairwise_distance', 'build_test_pipeline', 'load_dump', 'rank_dump',
    'RankedLists', 'InferenceWrapper', 'OnnxCheck', 'export_onnx',
    'verify_onnx', 'benchmark_inference', 'build_frequency_neck',
    'build_query_dataset', 'dataset_hf_lf_similarity', 'frequency_panel',
    'frequency_similarity_curves', 'get_complexity', 'group_means',
    'hf_lf_similarity', 'inference_parameters', 'layer_tokens',
    'write_curves_csv'
]
