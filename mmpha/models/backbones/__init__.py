from .clip_vit import CLIPViT
from .contract import BackboneFeatures, backbone_channels, backbone_features
from .transreid_vit import TransReIDViT

__all__ = [
    'TransReIDViT', 'CLIPViT', 'BackboneFeatures', 'backbone_channels',
    'backbone_features'
]
