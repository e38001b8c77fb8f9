# CUHK03-NP detected: 767 training ids (num_classes=767), 2 cameras
# (camera_num=2). Layout: docs/en/user_guides/dataset_prepare.md#cuhk03-np
# Everything but the subset comes from the labeled config.
_base_ = './cuhk03_labeled.py'

train_dataloader = dict(dataset=dict(subset='detected'))

# A list replaces its base list whole, so both splits are restated.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='CUHK03',
            data_root='data/cuhk03-np',
            subset='detected',
            split='query',
            pipeline={{_base_.test_pipeline}}),
        dict(
            type='CUHK03',
            data_root='data/cuhk03-np',
            subset='detected',
            split='gallery',
            pipeline={{_base_.test_pipeline}}),
    ]))
test_dataloader = val_dataloader
