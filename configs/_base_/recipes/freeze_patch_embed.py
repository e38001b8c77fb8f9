# Recipe switch: keep the pretrained patch embedding fixed for the first
# epochs (FreezePatchEmbedHook; MoCo v3's trick for fine-tuning
# self-supervised ViTs). Resume-correct: the hook decides from the epoch.
# Add AFTER default_runtime.py: it restates default_runtime's custom_hooks
# (a list is replaced, not merged); to combine it with recipes/ema.py, write
# one custom_hooks list holding both hooks in the leaf config.
freeze_patch_embed_epochs = 1
custom_hooks = [
    dict(type='NaNGuardHook'),
    dict(type='RNGStateHook'),
    dict(type='SetEpochHook'),
    dict(type='FreezePatchEmbedHook', epochs=freeze_patch_embed_epochs),
]
