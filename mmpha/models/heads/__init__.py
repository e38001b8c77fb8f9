from .pha_head import PHAHead
from .transreid_head import MarginClassifier, TransReIDHead, jpm_rearrange

__all__ = ['TransReIDHead', 'MarginClassifier', 'jpm_rearrange', 'PHAHead']
