# PHA on VeRi-776: ViT-B/16 stride 12 from ImageNet weights, batch 48 = 12
# ids x 4 images, 120 epochs, lr 0.008 (PHA's settings; the release has no
# vehicle config) with TransReID's vehicle input and side information:
# 256x256, JPM shift 8, SIE on cameras and views (20 x 8 embeddings). Train
# with --amp on a GPU.
_base_ = [
    '../_base_/models/pha_vit-base.py',
    '../_base_/datasets/veri776.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(img_size=(256, 256), camera_num=20, view_num=8),
    jpm=dict(shift=8),
    head=dict(num_classes=576))

# P x K = 12 x 4 (K from the dataset base).
train_dataloader = dict(batch_size=48)
