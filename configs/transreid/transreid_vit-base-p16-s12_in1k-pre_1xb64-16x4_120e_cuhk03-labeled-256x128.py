# TransReID* on CUHK03-NP (labeled, 767/700 split) with the recipe of the
# released configs (the TransReID release has none for CUHK03): ViT-B/16
# stride 12 from ImageNet weights, 256x128, batch 64 = 16 ids x 4 images,
# 120 epochs, JPM, SIE camera on (coefficient 3.0), soft-margin triplet,
# pre-BN test features. Train with --amp on a GPU.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/cuhk03_labeled.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=2, view_num=0), head=dict(num_classes=767))

# P x K = 16 x 4 (K from the dataset base, which has the PHA batch of 32).
train_dataloader = dict(batch_size=64)
