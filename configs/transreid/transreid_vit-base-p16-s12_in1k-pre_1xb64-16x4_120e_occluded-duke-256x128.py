# TransReID* on Occluded-Duke with the DukeMTMC-reID settings: ViT-B/16
# stride 12 from ImageNet weights, 256x128, batch 64 = 16 ids x 4 images,
# 120 epochs, JPM, SIE camera on (coefficient 3.0), soft-margin triplet,
# pre-BN test features. (TransReID's released Occluded-Duke config differs
# only by a patch stride of 11.) Train with --amp on a GPU.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/occluded_duke.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=8, view_num=0), head=dict(num_classes=702))
