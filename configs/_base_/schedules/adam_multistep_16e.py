# The BoT schedule (adam_multistep_120e.py) shrunk to 16 epochs for training
# a tiny CNN from scratch on CPU: 2 warm-up epochs from 0.1 x lr, lr x 0.1 at
# epochs 10 and 14, a larger lr (1e-3) since nothing is pretrained.
_base_ = './adam_multistep_120e.py'

max_epochs = 16
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=2),
    dict(
        type='MultiStepLR',
        milestones=[10, 14],
        gamma=0.1,
        by_epoch=True,
        begin=0,
        # None: the end of training (train_cfg.max_epochs, filled in by
        # the tools).
        end=None),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=32)
