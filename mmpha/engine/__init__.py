"""Engine components: hooks and the runner."""
import mmpretrain.engine  # noqa: F401

from . import hooks, optimizers
from .dataset_sizes import (AUTO, fill_auto_sizes, find_auto_sizes,
                            resolve_auto_sizes)
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .runner import (RESUME_CHECKED_KEYS, ReIDRunner, ResumeMismatchError,
                     config_differences, shape_differences)

__all__ = hooks.__all__ + optimizers.__all__ + [
    'ReIDRunner', 'ResumeMismatchError', 'RESUME_CHECKED_KEYS',
    'config_differences', 'shape_differences', 'AUTO', 'find_auto_sizes',
    'fill_auto_sizes', 'resolve_auto_sizes'
]
