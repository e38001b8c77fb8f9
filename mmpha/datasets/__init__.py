"""Re-ID datasets, samplers and transforms."""
import mmpretrain.datasets  # noqa: F401

from .samplers import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
