from .pha import PHA
from .reid_model import ReIDModel, fill_pred_features

__all__ = ['ReIDModel', 'PHA', 'fill_pred_features']
