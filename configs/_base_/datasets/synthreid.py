# SynthReID: the procedural dataset generated on first use under data_root
# (about 30 s on 2 CPU cores; see docs/en/user_guides/dataset_prepare.md).
# Each dataset asks for generation explicitly (auto_generate=True): without
# it, a data_root that does not exist is an error, not a new dataset.
# 75 training ids (num_classes=75), 6 cameras (camera_num=6), no views.
#
# The CPU default: images are stored at 256x128 but fed at 128x64 (HxW), so
# that a tiny ViT trains in a few CPU minutes (16x8 patches at stride 16, or
# 10x5 at stride 12). Leaf configs that want 256x128 restate the pipelines.

# What names the data, stated once for the train, query and gallery sets.
dataset = dict(
    type='SynthReID', data_root='data/synthreid', auto_generate=True)

data_preprocessor = dict(
    type='ReIDDataPreprocessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(64, 128), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # mmpretrain's RandomCrop takes crop_size=(h, w); padding=5 is the
    # recipe's 10 pixels at 256x128 scaled to this input size.
    dict(type='RandomCrop', crop_size=(128, 64), padding=5, pad_val=0),
    # Random-valued pixels: N(127.5, 127.5) is N(0, 1) after normalisation,
    # as in TransReID's random erasing.
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        aspect_range=(0.3, 1 / 0.3),
        mode='rand',
        fill_color=(127.5, 127.5, 127.5),
        fill_std=(127.5, 127.5, 127.5)),
    dict(type='PackReIDInputs'),
]

test_pipeline = [
    dict(type='LoadReIDImage'),
    dict(type='Resize', scale=(64, 128), interpolation='bicubic'),
    dict(type='PackReIDInputs'),
]

# P x K: the batch (P x K images on each GPU) is stated once, as
# batch_size; K by the batch sampler, which draws P = batch_size / K
# identities a batch (see docs/en/user_guides/config.md). The plain sampler
# only carries the dataset, the seed and the epoch to it.
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    # Not persistent: persistent workers carry their random state from one
    # epoch to the next, which no checkpoint can hold, so a resumed run
    # would draw other augmentations than the uninterrupted one.
    persistent_workers=False,
    # Seeds that change every epoch and continue exactly after a resume.
    worker_init_fn=dict(type='mmpha.reid_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='PKBatchSampler', num_instances=4),
    dataset=dict(dataset, split='train', pipeline=train_pipeline))

# Query then gallery in one dataloader; the metric splits them by is_query.
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(dataset, split=split, pipeline=test_pipeline)
            for split in ('query', 'gallery')
        ],
        ignore_keys=[
            'split', 'num_classes', 'num_cameras', 'num_views', 'num_images'
        ]))
test_dataloader = val_dataloader

val_evaluator = dict(type='ReIDMetric')
test_evaluator = val_evaluator
