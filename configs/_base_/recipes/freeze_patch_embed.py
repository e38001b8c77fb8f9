# Recipe switch: keep the pretrained patch embedding fixed for the first
# epochs (FreezePatchEmbedHook; MoCo v3's trick for fine-tuning
# self-supervised ViTs). Resume-correct: the hook decides from the epoch.
# Use it in a leaf's _base_ list INSTEAD of default_runtime.py, which it
# inherits; it restates default_runtime's custom_hooks (a list is replaced,
# not merged). To combine it with recipes/ema.py, give the leaf one
# custom_hooks list holding both hooks.
_base_ = ['../default_runtime.py']

custom_hooks = [
    dict(type='NaNGuardHook'),
    dict(type='RNGStateHook'),
    dict(type='SetEpochHook'),
    dict(type='FreezePatchEmbedHook', epochs=1),
]
