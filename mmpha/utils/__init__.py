"""Utilities: environment set-up and checkpoint loading."""
from .checkpoint import register_checkpoint_loader, trusted_checkpoint_globals
from .config_check import check_pk_batch
from .dist import setup_cpu_distributed, teardown_distributed
from .setup_env import (apply_run_options, register_all_modules,
                        setup_num_threads)

__all__ = [
    'register_all_modules', 'register_checkpoint_loader',
    'trusted_checkpoint_globals', 'setup_cpu_distributed', 'check_pk_batch',
    'setup_num_threads', 'apply_run_options', 'teardown_distributed'
]
