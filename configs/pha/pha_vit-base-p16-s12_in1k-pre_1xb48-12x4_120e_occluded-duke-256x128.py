# PHA on Occluded-Duke: ViT-B/16 stride 12 from ImageNet weights, 256x128,
# batch 48 = 12 ids x 4 images, 120 epochs, SIE camera (8 cameras): the
# settings of the DukeMTMC-reID config (the release has no Occluded-Duke
# config). Train with --amp on a GPU.
_base_ = [
    '../_base_/models/pha_vit-base.py',
    '../_base_/datasets/occluded_duke.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=8, view_num=0), head=dict(num_classes=702))

# P x K = 12 x 4 (K from the dataset base).
train_dataloader = dict(batch_size=48)
