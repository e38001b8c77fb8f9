"""Engine components: hooks."""
import mmpretrain.engine  # noqa: F401

from .hooks import *  # noqa: F401,F403
