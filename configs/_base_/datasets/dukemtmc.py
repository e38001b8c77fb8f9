# DukeMTMC-reID: 702 training ids (num_classes=702), 8 cameras (camera_num=8).
# Layout: docs/en/user_guides/dataset_prepare.md#dukemtmc-reid
# The Market-1501 layout, pipelines and loaders with another dataset class
# and root.
_base_ = './market1501.py'

dataset_type = 'DukeMTMC'
data_root = 'data/dukemtmc'

train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))

# A list replaces its base list whole, so both splits are restated.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(
            type=dataset_type,
            data_root=data_root,
            split='query',
            pipeline={{_base_.test_pipeline}}),
        dict(
            type=dataset_type,
            data_root=data_root,
            split='gallery',
            pipeline={{_base_.test_pipeline}}),
    ]))
test_dataloader = val_dataloader
