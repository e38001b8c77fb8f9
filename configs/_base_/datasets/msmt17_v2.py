# MSMT17 V2 (faces masked): 1,041 training ids (num_classes=1041), 15 cameras
# (camera_num=15). The train split is list_train + list_val.
# Layout: docs/en/user_guides/dataset_prepare.md#msmt17
# Everything but the version and the root comes from the V1 config.
_base_ = './msmt17.py'

dataset = dict(data_root='data/MSMT17_V2', version='v2')

train_dataloader = dict(dataset=dataset)

# The query + gallery sets of the base, for this data.
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, **dataset) for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader
