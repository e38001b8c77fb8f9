from .layer_decay_constructor import (ReIDLayerDecayOptimWrapperConstructor,
                                      reid_layer_depth)

__all__ = ['ReIDLayerDecayOptimWrapperConstructor', 'reid_layer_depth']
