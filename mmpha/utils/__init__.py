"""Utilities: environment set-up and checkpoint loading."""
from .atomic_io import atomic_torch_save, atomic_write_bytes, atomic_write_text
from .checkpoint import (CheckpointLoadError, UnsafeCheckpointError,
                         check_checkpoint, load_local_checkpoint,
                         register_checkpoint_loader, resolve_checkpoint,
                         set_unsafe_load, setup_checkpoint_loading,
                         trusted_checkpoint_globals, unsafe_load)
from .checkpoint_files import read_last_checkpoint, write_last_checkpoint
from .config_check import check_pk_batch
from .dist import setup_cpu_distributed, teardown_distributed
from .init_weights import init_weights_quietly
from .pretrained import strip_pretrained
from .setup_env import (apply_run_options, register_all_modules,
                        setup_num_threads)
from .tensor_ops import (DIST_METRICS, DistMetric, IntTypeError,
                         check_dist_metric, check_feature_pair, check_int,
                         check_positive_int, pair_masks, pairwise_distance)

__all__ = [
    'register_all_modules', 'register_checkpoint_loader',
    'trusted_checkpoint_globals', 'CheckpointLoadError',
    'UnsafeCheckpointError', 'check_checkpoint', 'load_local_checkpoint',
    'resolve_checkpoint', 'set_unsafe_load', 'setup_checkpoint_loading',
    'unsafe_load', 'setup_cpu_distributed', 'check_pk_batch',
    'setup_num_threads', 'apply_run_options', 'teardown_distributed',
    'atomic_write_bytes', 'atomic_write_text', 'atomic_torch_save',
    'read_last_checkpoint', 'write_last_checkpoint', 'DistMetric',
    'DIST_METRICS', 'IntTypeError', 'check_dist_metric', 'check_feature_pair',
    'check_positive_int', 'pair_masks', 'pairwise_distance',
    'strip_pretrained', 'init_weights_quietly', 'check_int'
]
