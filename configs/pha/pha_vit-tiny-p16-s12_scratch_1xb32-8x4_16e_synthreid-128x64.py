# PHA with a tiny ViT (embed 64, 4 blocks) trained from scratch on SynthReID
# at 128x64 (a 10x5 patch grid, 20 HF patches kept): the CPU run of the
# README. It inherits the tiny TransReID SynthReID config unchanged (data,
# schedule, seed, SIE camera), so the two are directly comparable; only the
# PHA parts below are added.
_base_ = [
    '../transreid/'
    'transreid_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py'
]

model = dict(
    type='PHA',
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
