# TransReID* on MSMT17 at 384x128 (the TransReID paper's second input size):
# ViT-B/16 stride 12 from ImageNet weights, a 31x10 patch grid (the ImageNet
# 14x14 position embedding is resized to it when the weights load), batch
# 64 = 16 ids x 4 images, 120 epochs, JPM, SIE camera on. Train with --amp on
# a GPU.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/msmt17.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

# mmcv's Resize takes scale=(w, h), mmpretrain's RandomCrop crop_size=(h, w).
train_pipeline = [
    dict(t, scale=(128, 384)) if t['type'] == 'Resize' else
    dict(t, crop_size=(384, 128)) if t['type'] == 'RandomCrop' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=(128, 384)) if t['type'] == 'Resize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(datasets=[
        dict(d, pipeline=test_pipeline)
        for d in _base_.val_dataloader.dataset.datasets
    ]))
test_dataloader = val_dataloader

model = dict(
    backbone=dict(img_size=(384, 128), camera_num=15, view_num=0),
    head=dict(num_classes=1041))
