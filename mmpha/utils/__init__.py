"""Utilities: environment set-up and checkpoint loading."""
from .checkpoint import register_checkpoint_loader, trusted_checkpoint_globals
from .dist import setup_cpu_distributed
from .setup_env import register_all_modules

__all__ = [
    'register_all_modules', 'register_checkpoint_loader',
    'trusted_checkpoint_globals', 'setup_cpu_distributed'
]
