# Recipe switch: an exponential moving average of the weights (MMEngine's
# EMAHook). Validation and testing run the averaged weights; checkpoints
# store them as 'state_dict' (what tools/test.py and init_model load) and the
# raw training weights as 'ema_state_dict' (used on resume).
# Use it in a leaf's _base_ list INSTEAD of default_runtime.py, which it
# inherits (MMEngine refuses two sibling bases that set the same key); it
# restates default_runtime's custom_hooks, since a list is replaced, not
# merged. momentum 2e-4 is MMEngine's default (the EMA keeps 1 - 2e-4 of
# itself per iteration); update_buffers averages the BNNeck statistics too.
_base_ = ['../default_runtime.py']

custom_hooks = [
    dict(type='NaNGuardHook'),
    dict(type='RNGStateHook'),
    dict(type='SetEpochHook'),
    dict(type='EMAHook', momentum=0.0002, update_buffers=True, priority=49),
]
