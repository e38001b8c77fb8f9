# The TransReID recipe: SGD (momentum 0.9, lr 0.008 for a batch of 64,
# weight decay 1e-4 on every parameter), bias lr x2, 5 linear warm-up epochs
# from 0.01 x lr, cosine decay to 0.002 x lr over the 120 epochs. The lr is
# updated once per epoch, as in the released code.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.008, momentum=0.9, weight_decay=1e-4),
    # TransReID doubles the lr of every parameter whose name contains
    # "bias", LayerNorm biases included; MMEngine's bias_lr_mult would skip
    # normalisation layers, so a custom key is used instead.
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)}))

# The released code uses timm's CosineLRScheduler, whose cosine runs over
# all 120 epochs and whose warm-up replaces it for the first 5. Running
# MMEngine's (chainable) LinearLR over epochs 0-5 on top of a 120-epoch
# CosineAnnealingLR gives the same curve: within 0.003 x lr during the
# warm-up and within 1e-5 x lr afterwards (tests/test_configs).
# end=None is the end of training: the tools fill it (and the cosine's
# T_max = end - begin) from train_cfg.max_epochs, so that
# `--cfg-options train_cfg.max_epochs=N` shortens the cosine with the run.
# The warm-up's end is a number and stays.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=6),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.002,
        by_epoch=True,
        begin=0,
        end=None),
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=120, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# The lr above is for 64 images per iteration (16 identities x 4);
# `--auto-scale-lr` rescales it linearly to the actual total batch size.
auto_scale_lr = dict(base_batch_size=64, enable=False)
