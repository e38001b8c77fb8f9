# PHA with a tiny ViT (embed 64, 4 blocks) trained from scratch on SynthReID
# at 128x64 (a 10x5 patch grid, 20 HF patches kept): the CPU run of the
# README. It has the bases (data, schedule, runtime) and the model overrides
# of the tiny TransReID SynthReID config, so the two are directly
# comparable; only the PHA parts are added.
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid_scratch.py',
    '../_base_/schedules/adamw_cosine_16e.py',
    '../_base_/cpu_runtime.py',
]

# One checkpoint, at the end of the schedule.
default_hooks = dict(checkpoint=dict(interval={{_base_.max_epochs}}))

# 75 training identities, 6 cameras, no drop-path (the tiny TransReID
# config's settings).
model = dict(
    type='PHA',
    backbone=dict(img_size=(128, 64), camera_num=6, drop_path_rate=0.0),
    head=dict(num_classes=75),
    neck=dict(
        type='PHANeck',
        hf_ratio=0.4,
        keep_ratio=0.4,
        quant_step=5.0,
        alpha=0.1,
        quant_mode='release',
        wave='haar',
        J=1,
        dwt_mode='zero',
        ranking='energy',
        use_lf_drop=True),
    pha_head=dict(type='PHAHead', hf_weight_schedule=dict(step=0.05, max=0.5)),
    loss_pc=dict(
        type='PatchContrastiveLoss', temperature=1.0, loss_weight=1.0),
    use_hf_x=True,
    use_hf_xhf=True,
    use_contrastive=True)
