from .jpm import JPM, jpm_rearrange
from .pha import PHANeck

__all__ = ['PHANeck', 'JPM', 'jpm_rearrange']
