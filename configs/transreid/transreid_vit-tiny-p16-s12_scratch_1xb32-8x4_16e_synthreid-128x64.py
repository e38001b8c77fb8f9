# TransReID with a tiny ViT (embed 64, 4 blocks) trained from scratch on
# SynthReID at 128x64 (stride 12: a 10x5 patch grid): the CPU check of the
# whole pipeline, a few minutes on 2 cores.
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid_scratch.py',
    '../_base_/schedules/adamw_cosine_16e.py',
    '../_base_/cpu_runtime.py',
]

# SynthReID: 75 training identities, 6 cameras (SIE camera, as in the
# released TransReID configs). A short schedule from random weights
# underfits rather than overfits (about 40 % training accuracy at the end),
# so the regularisers meant for fine-tuning an ImageNet ViT for 120 epochs
# are off: no drop-path here, no random erasing in the dataset base. Both
# halved mAP at 12 epochs.
model = dict(
    backbone=dict(img_size=(128, 64), camera_num=6, drop_path_rate=0.0),
    head=dict(num_classes=75))

# One checkpoint, at the end of the schedule.
default_hooks = dict(checkpoint=dict(interval={{_base_.max_epochs}}))
