# BoT with a tiny ResNet-18 (width 16, last stride 1) trained from scratch on
# SynthReID at 128x64: the CPU check that a CNN trains through the shared
# ReIDModel, tools/train.py and the metric.
_base_ = [
    '../_base_/models/bot_r50.py',
    '../_base_/datasets/synthreid.py',
    '../_base_/schedules/adam_multistep_16e.py',
    '../_base_/default_runtime.py',
]

# 75 training identities; no pretrained weights (random initialisation).
model = dict(
    backbone=dict(depth=18, base_channels=16, stem_channels=16, init_cfg=None),
    head=dict(num_classes=75))

# No random erasing on a short run from scratch (it underfits, as the tiny
# TransReID config notes); flip and pad + crop stay.
train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(64, 128), interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(128, 64), padding=5, pad_val=0),
    dict(type='PackReIDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

default_hooks = dict(
    logger=dict(interval=19),
    checkpoint=dict(
        interval={{_base_.train_cfg.max_epochs}},
        max_keep_ckpts=1,
        save_best=None))

# One intra-op thread on 2 shared cores (read by tools/train.py).
env_cfg = dict(num_threads=1)
