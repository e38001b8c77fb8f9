# PHA on CUHK03-NP detected (767/700 split) with the released settings:
# ViT-B/16 stride 12 from ImageNet weights, 256x128, batch 32 = 8 ids x 4
# images, 200 epochs, SIE camera (2 cameras). Train with --amp on a GPU.
_base_ = [
    '../_base_/models/pha_vit-base.py',
    '../_base_/datasets/cuhk03_detected.py',
    '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=2, view_num=0), head=dict(num_classes=767))
