from .checkpoint_hook import SafeCheckpointHook
from .freeze_patch_embed_hook import FreezePatchEmbedHook
from .nan_guard_hook import NaNGuardHook
from .rng_state_hook import RNGStateHook
from .set_epoch_hook import SetEpochHook

__all__ = [
    'NaNGuardHook', 'RNGStateHook', 'SafeCheckpointHook', 'SetEpochHook',
    'FreezePatchEmbedHook'
]
