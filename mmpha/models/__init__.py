"""Models: backbones, necks, heads, losses and the re-ID model wrappers."""
# mmpretrain's model modules must be imported for a look-up from the
# ``mmpha`` scope to find them in the parent registry.
import mmpretrain.models  # noqa: F401

from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .reid import *  # noqa: F401,F403
