# MSMT17 V1: 1,041 training ids (num_classes=1041), 15 cameras (camera_num=15).
# The train split is list_train + list_val (combine_train_val=True), as in
# the TransReID and PHA releases.
# Layout: docs/en/user_guides/dataset_prepare.md#msmt17
# Pipelines, batch and loaders come from the Market-1501 config.
_base_ = './market1501.py'

dataset_type = 'MSMT17'
data_root = 'data/MSMT17_V1'

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        version='v1',
        combine_train_val=True))

# A list replaces its base list whole, so both splits are restated.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type=dataset_type,
            data_root=data_root,
            version='v1',
            combine_train_val=True,
            split='query',
            pipeline={{_base_.test_pipeline}}),
        dict(
            type=dataset_type,
            data_root=data_root,
            version='v1',
            combine_train_val=True,
            split='gallery',
            pipeline={{_base_.test_pipeline}}),
    ]))
test_dataloader = val_dataloader
