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

# The Market-1501 recipe at 256x256: mmcv's Resize takes scale=(w, h),
# mmpretrain's RandomCrop crop_size=(h, w).
train_pipeline = [
    dict(t, scale=(256, 256)) if t['type'] == 'Resize' else
    dict(t, crop_size=(256, 256)) if t['type'] == 'RandomCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=(256, 256)) if t['type'] == 'Resize' else t
    for t in _base_.test_pipeline
]

train_dataloader = dict(
    dataset=dict(dataset, split='train', pipeline=train_pipeline))

val_dataloader = dict(
    dataset=dict(datasets=[
        dict(dataset, split=split, pipeline=test_pipeline)
        for split in ('query', 'gallery')
    ]))
test_dataloader = val_dataloader
