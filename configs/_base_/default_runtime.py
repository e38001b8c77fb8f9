# Runtime defaults shared by every mmpha config.
default_scope = 'mmpha'
# MMEngine's Runner with honest resume and loading: resuming with nothing to
# resume from, or with a config that differs from the checkpoint's, and
# checkpoints that do not fit the model are errors (mmpha/engine/runner.py).
runner_type = 'ReIDRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # MMEngine's CheckpointHook with atomic writes, the pointer written after
    # the checkpoint, old files removed last and no NaN weights on disk.
    checkpoint=dict(
        type='SafeCheckpointHook',
        interval=10,
        max_keep_ckpts=3,
        save_best='mAP',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

# NaNGuardHook stops at the first NaN/Inf loss term, before a checkpoint of
# bad weights; RNGStateHook checkpoints the random generators so that a
# resumed run continues exactly; SetEpochHook gives models with set_epoch()
# (PHA's loss weight w(e)) the 1-based epoch. Leaf configs that set
# custom_hooks replace this list: keep all three in it.
custom_hooks = [
    dict(type='NaNGuardHook'),
    dict(type='RNGStateHook'),
    dict(type='SetEpochHook')
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
