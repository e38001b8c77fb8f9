from .center_loss import CenterLoss, center_loss
from .patch_contrastive_loss import (PatchContrastiveLoss,
                                     patch_contrastive_loss)
from .triplet_loss import TripletLoss, triplet_loss

__all__ = [
    'PatchContrastiveLoss', 'patch_contrastive_loss', 'TripletLoss',
    'triplet_loss', 'CenterLoss', 'center_loss'
]
