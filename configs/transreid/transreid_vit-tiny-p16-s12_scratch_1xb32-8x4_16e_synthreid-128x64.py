# TransReID with a tiny ViT (embed 64, 4 blocks) trained from scratch on
# SynthReID at 128x64 (stride 12: a 10x5 patch grid): the CPU check of the
# whole pipeline, a few minutes on 2 cores.
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid.py',
    '../_base_/schedules/adamw_cosine_16e.py',
    '../_base_/default_runtime.py',
]

# SynthReID: 75 training identities, 6 cameras (SIE camera, as in the
# released TransReID configs). A short schedule from random weights
# underfits rather than overfits (about 40 % training accuracy at the end),
# so the regularisers meant for fine-tuning an ImageNet ViT for 120 epochs
# are off: no drop-path, no random erasing. Both halved mAP at 12 epochs.
model = dict(
    backbone=dict(img_size=(128, 64), camera_num=6, drop_path_rate=0.0),
    head=dict(num_classes=75))

train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(64, 128), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(128, 64), padding=5, pad_val=0),
    dict(type='PackReIDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# One checkpoint, at the end of the schedule.
default_hooks = dict(
    logger=dict(interval=19),
    checkpoint=dict(
        interval={{_base_.train_cfg.max_epochs}},
        max_keep_ckpts=1,
        save_best=None))

# One intra-op thread (read by tools/train.py; OMP_NUM_THREADS overrides
# it): on 2 cores shared with the dataloader workers and other jobs, the
# default of one thread per core made an iteration 5-10x slower.
env_cfg = dict(num_threads=1)
