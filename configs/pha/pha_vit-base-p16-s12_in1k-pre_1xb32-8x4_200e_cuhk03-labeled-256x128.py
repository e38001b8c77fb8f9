# PHA on CUHK03-NP labeled (767/700 split) with the released settings:
# ViT-B/16 stride 12 from ImageNet weights, 256x128, batch 32 = 8 ids x 4
# images, 200 epochs, SIE camera (2 cameras). Train with --amp on a GPU.
_base_ = [
    '../_base_/models/pha_vit-base.py',
    '../_base_/datasets/cuhk03_labeled.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=2, view_num=0), head=dict(num_classes=767))

# The dataset base already has batch 32 = 8 x 4.
train_dataloader = dict(batch_size=32, sampler=dict(batch_size=32))

# The recipe's warm-up and cosine decay, stretched to 200 epochs.
max_epochs = 200
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=5),
    # end=None: the end of training, with T_max = end - begin.
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.002,
        by_epoch=True,
        begin=5,
        end=None),
]
train_cfg = dict(max_epochs=max_epochs)
