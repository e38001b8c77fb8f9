# MSMT17 V2 (faces masked): 1,041 training ids (num_classes=1041), 15 cameras
# (camera_num=15). The train split is list_train + list_val.
# Layout: docs/en/user_guides/dataset_prepare.md#msmt17
# Everything but the version and the root comes from the V1 config.
_base_ = './msmt17.py'

data_root = 'data/MSMT17_V2'

train_dataloader = dict(dataset=dict(data_root=data_root, version='v2'))

# A list replaces its base list whole, so both splits are restated.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type='MSMT17',
            data_root=data_root,
            version='v2',
            combine_train_val=True,
            split='query',
            pipeline={{_base_.test_pipeline}}),
        dict(
            type='MSMT17',
            data_root=data_root,
            version='v2',
            combine_train_val=True,
            split='gallery',
            pipeline={{_base_.test_pipeline}}),
    ]))
test_dataloader = val_dataloader
