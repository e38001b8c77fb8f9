# Occluded-Duke: 702 training ids (num_classes=702), 8 cameras
# (camera_num=8). Layout: docs/en/user_guides/dataset_prepare.md#occluded-duke
# The Market-1501 layout, pipelines, loaders and evaluation sets with another
# dataset class and root.
_base_ = './market1501.py'

dataset = dict(type='OccludedDuke', data_root='data/Occluded_Duke')

train_dataloader = dict(dataset=dataset)

# The query + gallery sets of the base, for this data.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader
