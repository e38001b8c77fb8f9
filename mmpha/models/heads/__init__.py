from .margin_classifier import MarginClassifier
from .pha_head import PHAHead
from .reid_head import ReIDHead, build_bnneck, gt_labels, top1_accuracy

__all__ = [
    'ReIDHead', 'MarginClassifier', 'PHAHead', 'build_bnneck', 'gt_labels',
    'top1_accuracy'
]
