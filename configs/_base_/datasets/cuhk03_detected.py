# CUHK03-NP detected: 767 training ids (num_classes=767), 2 cameras
# (camera_num=2). Layout: docs/en/user_guides/dataset_prepare.md#cuhk03-np
# Everything but the subset comes from the labeled config.
_base_ = './cuhk03_labeled.py'

dataset = dict(subset='detected')

train_dataloader = dict(dataset=dataset)

# The query + gallery sets of the base, for this data.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader
