# CUHK03-NP labeled: 767 training ids (num_classes=767), 2 cameras
# (camera_num=2). Layout: docs/en/user_guides/dataset_prepare.md#cuhk03-np
# Pipelines and loaders come from the Market-1501 config.
_base_ = './market1501.py'

dataset_type = 'CUHK03'
data_root = 'data/cuhk03-np'

# P x K = 8 ids x 4 images, as in the PHA release.
train_dataloader = dict(
    batch_size=32,
    dataset=dict(type=dataset_type, data_root=data_root, subset='labeled'))

# A list replaces its base list whole, so both splits are restated.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type=dataset_type,
            data_root=data_root,
            subset='labeled',
            split='query',
            pipeline={{_base_.test_pipeline}}),
        dict(
            type=dataset_type,
            data_root=data_root,
            subset='labeled',
            split='gallery',
            pipeline={{_base_.test_pipeline}}),
    ]))
test_dataloader = val_dataloader
