# CUHK03-NP labeled: 767 training ids (num_classes=767), 2 cameras
# (camera_num=2). Layout: docs/en/user_guides/dataset_prepare.md#cuhk03-np
# Pipelines, loaders and evaluation sets come from the Market-1501 config.
_base_ = './market1501.py'

dataset = dict(type='CUHK03', data_root='data/cuhk03-np', subset='labeled')

# P x K = 8 ids x 4 images, as in the PHA release.
train_dataloader = dict(batch_size=32, dataset=dataset)

# The query + gallery sets of the base, for this data.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader
