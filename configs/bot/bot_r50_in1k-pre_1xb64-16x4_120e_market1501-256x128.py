# BoT on Market-1501: ResNet-50 (last stride 1) from ImageNet weights,
# 256x128, batch 64 = 16 ids x 4 images, Adam with warm-up, 120 epochs,
# BNNeck, label-smoothed ID + triplet (margin 0.3) losses, random erasing,
# flip, pad + crop. The baseline of Luo et al. 2019 on the shared ReIDModel.
_base_ = [
    '../_base_/models/bot_r50.py',
    '../_base_/datasets/market1501.py',
    '../_base_/schedules/adam_multistep_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=751))

# ImageNet statistics, as the ResNet-50 weights were trained with.
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])

# BoT's augmentation: bilinear resize, flip, pad 10 + crop, random erasing
# (p 0.5) filled with the ImageNet mean pixel.
train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(128, 256), interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(256, 128), padding=10, pad_val=0),
    dict(
        type='RandomErasing',
        erase_prob=0.5,
        min_area_ratio=0.02,
        max_area_ratio=0.4,
        aspect_range=(0.3, 1 / 0.3),
        mode='const',
        fill_color=(125.307, 122.961, 113.8575)),
    dict(type='PackReIDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# Evaluation uses the dataset base's 256x128 test pipeline (bicubic resize;
# BoT resizes bilinearly).
