# TransReID with a tiny ViT (embed 64, 4 blocks) trained from scratch on
# SynthReID at 128x64 (stride 12: a 10x5 patch grid): the CPU check of the
# whole pipeline, a few minutes on 2 cores.
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid.py',
    '../_base_/default_runtime.py',
]

# SynthReID: 75 training identities, 6 cameras (SIE camera, as in the
# released TransReID configs).
model = dict(
    backbone=dict(img_size=(128, 64), camera_num=6),
    head=dict(num_classes=75))

# From scratch, a tiny ViT needs a larger lr than the ImageNet-initialised
# recipe; otherwise the recipe's shape: SGD, bias lr x2, linear warm-up,
# cosine decay to 0.002 x lr.
max_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=3),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min_ratio=0.002,
        by_epoch=True,
        begin=0,
        end=max_epochs),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(base_batch_size=32, enable=False)

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))
