# Market-1501: 751 training ids (num_classes=751), 6 cameras (camera_num=6).
# Layout: docs/en/user_guides/dataset_prepare.md#market-1501
# What names the data, stated once for the train, query and gallery sets. A
# dataset base that inherits this file sets its own `dataset` and rebuilds
# the two evaluation sets from the ones below (see eval_datasets).
dataset = dict(type='Market1501', data_root='data/market1501')

data_preprocessor = dict(
    type='ReIDDataPreprocessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=True)

# The TransReID / PHA recipe at 256x128 (HxW).
train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    # Pad 10 on every side, then crop back: mmpretrain's RandomCrop takes
    # crop_size=(h, w).
    dict(type='RandomCrop', crop_size=(256, 128), padding=10, pad_val=0),
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
    dict(type='Resize', scale=(128, 256), interpolation='bicubic'),
    dict(type='PackReIDInputs'),
]

# P x K: the batch (P x K images on each GPU) is stated once, as
# batch_size; K by the batch sampler, which draws P = batch_size / K
# identities a batch (see docs/en/user_guides/config.md). The plain sampler
# only carries the dataset, the seed and the epoch to it.
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    # Page-locked batches copy to the GPU asynchronously; each worker keeps
    # prefetch_factor batches ready (needs num_workers > 0: set
    # prefetch_factor=None with num_workers=0).
    pin_memory=True,
    prefetch_factor=4,
    # Not persistent: persistent workers carry their random state from one
    # epoch to the next, which no checkpoint can hold, so a resumed run
    # would draw other augmentations than the uninterrupted one.
    persistent_workers=False,
    # Seeds that change every epoch and continue exactly after a resume.
    worker_init_fn=dict(type='mmpha.reid_worker_init_fn'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='PKBatchSampler', num_instances=4),
    dataset=dict(dataset, split='train', pipeline=train_pipeline))

# The evaluation sets, defined here once: query then gallery, in one
# dataloader; the metric splits them by is_query. A base that inherits this
# file gets them for its own data with
#   val_dataloader = dict(dataset=dict(datasets=[
#       dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets]))
# (a list replaces its base list whole, so the list is rebuilt, not merged).
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    pin_memory=True,
    prefetch_factor=4,
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
