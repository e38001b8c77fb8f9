# TransReID* on VeRi-776 with the released settings: ViT-B/16 stride 12 from
# ImageNet weights, 256x256, batch 64 = 16 ids x 4 images, 120 epochs,
# lr 0.01, JPM with a shift of 8, SIE on cameras and views (20 x 8
# embeddings indexed cam * 8 + view, coefficient 3.0), soft-margin triplet,
# pre-BN test features. The views come from keypoint_train.txt /
# keypoint_test.txt in data_root (see the dataset base). Train with --amp on
# a GPU.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/veri776.py',
    '../_base_/schedules/sgd-lr0.01_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(img_size=(256, 256), camera_num=20, view_num=8),
    jpm=dict(shift=8),
    head=dict(num_classes=576))
