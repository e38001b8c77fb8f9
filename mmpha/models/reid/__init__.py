from .pha import PHA, current_train_epoch
from .reid_model import ReIDModel

__all__ = ['ReIDModel', 'PHA', 'current_train_epoch']
