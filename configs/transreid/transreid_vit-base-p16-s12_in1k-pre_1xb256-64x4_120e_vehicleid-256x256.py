# TransReID* on VehicleID with the released settings: ViT-B/16 stride 12
# from ImageNet weights, 256x256, batch 256 = 64 ids x 4 images, 120 epochs,
# lr 0.045, JPM with a shift of 8, no SIE (VehicleID has neither cameras
# nor views), soft-margin triplet, pre-BN test features. Tested on the
# 800-id list by default (val_dataloader.dataset.test_size=1600 / 2400 for
# the others), mean and std over 10 random gallery draws. Train with --amp
# on a GPU.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/vehicleid.py',
    '../_base_/schedules/sgd-lr0.045-b256_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(img_size=(256, 256), camera_num=0, view_num=0),
    jpm=dict(shift=8),
    head=dict(num_classes=13164))

train_dataloader = dict(batch_size=256)
