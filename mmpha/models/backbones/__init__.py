from .contract import BackboneFeatures, backbone_channels, backbone_features
from .transreid_vit import TransReIDViT

__all__ = [
    'TransReIDViT', 'BackboneFeatures', 'backbone_channels',
    'backbone_features'
]
