# VeRi-776: 576 training ids (num_classes=576), 20 cameras (camera_num=20),
# 8 views (view_num=8). Layout: docs/en/user_guides/dataset_prepare.md#veri-776
# The loaders, preprocessor and evaluation of the Market-1501 base (standard
# protocol: same id + same camera removed) at TransReID's vehicle input size,
# 256x256 (HxW).
_base_ = './market1501.py'

# The view (orientation) labels that TransReID's SIE reads, relative to
# data_root; view_file=None trains without views.
dataset = dict(
    type='VeRi776',
    data_root='data/VeRi',
    view_file=dict(train='keypoint_train.txt', test='keypoint_test.txt'))

train_pipeline = [
    dict(type='LoadReIDImage'),
    dict(type='Resize', scale=(256, 256), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(256, 256), padding=10, pad_val=0),
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
    dict(type='Resize', scale=(256, 256), interpolation='bicubic'),
    dict(type='PackReIDInputs'),
]

train_dataloader = dict(
    dataset=dict(dataset, split='train', pipeline=train_pipeline))

val_dataloader = dict(
    dataset=dict(datasets=[
        dict(dataset, split=split, pipeline=test_pipeline)
        for split in ('query', 'gallery')
    ]))
test_dataloader = val_dataloader
