# MSMT17 V1: 1,041 training ids (num_classes=1041), 15 cameras (camera_num=15).
# The train split is list_train + list_val (combine_train_val=True), as in
# the TransReID and PHA releases.
# Layout: docs/en/user_guides/dataset_prepare.md#msmt17
# Pipelines, batch, loaders and evaluation sets come from the Market-1501
# config.
_base_ = './market1501.py'

dataset = dict(
    type='MSMT17',
    data_root='data/MSMT17_V1',
    version='v1',
    combine_train_val=True)

train_dataloader = dict(dataset=dataset)

# The query + gallery sets of the base, for this data.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader
