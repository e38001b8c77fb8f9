# The BoT schedule: Adam (lr 3.5e-4 for a batch of 64, weight decay 5e-4),
# 10 epochs of linear warm-up from 0.1 x lr, lr x 0.1 at epochs 40 and 70,
# 120 epochs. The lr is updated once per epoch, as in the BoT code.
max_epochs = 120
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3.5e-4, weight_decay=5e-4))
param_scheduler = [
    # factor 0.1 + 0.9 e / 10 at epoch e < 10: BoT's WarmupMultiStepLR.
    dict(
        type='LinearLR',
        start_factor=0.1,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=10),
    dict(
        type='MultiStepLR',
        milestones=[40, 70],
        gamma=0.1,
        by_epoch=True,
        begin=0,
        # None: the end of training (train_cfg.max_epochs, filled in by
        # the tools).
        end=None),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# `--auto-scale-lr` rescales the lr linearly to the actual total batch size.
auto_scale_lr = dict(base_batch_size=64, enable=False)
