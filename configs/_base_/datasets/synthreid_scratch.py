# SynthReID for a short run from random weights (the tiny CPU configs): the
# SynthReID data, loaders and evaluation sets without random erasing. Such a
# run underfits rather than overfits (about 40 % training accuracy at the
# end), so the regulariser meant for fine-tuning an ImageNet ViT for 120
# epochs is off: with it, mAP halved at 12 epochs. Flip and pad + crop stay.
_base_ = './synthreid.py'

train_pipeline = [
    dict(type='LoadReIDImage'),
    # mmcv's Resize takes scale=(w, h).
    dict(type='Resize', scale=(64, 128), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=(128, 64), padding=5, pad_val=0),
    dict(type='PackReIDInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
