# PHA (Zhang et al., CVPR 2023) on the TransReID ViT-B/16 (stride 12): the
# TransReID model plus the training-only PHA parts. Every value below is the
# paper's (see docs/en/advanced_guides/pha.md for each switch). Leaf configs
# set num_classes and SIE, as for TransReID.
_base_ = ['./transreid_vit-base.py']

model = dict(
    type='PHA',
    # Frequency analysis of each augmented batch, on the device.
    neck=dict(
        type='PHANeck',
        hf_ratio=0.4,  # top 40 % of the Haar detail energy = HF region
        keep_ratio=0.4,  # 84 of the 210 patch tokens at 256x128
        quant_step=5.0,  # LL quantisation step, grey levels
        alpha=0.1,  # smooth-rounding softness of the released code
        quant_mode='release',
        wave='haar',
        J=1,
        dwt_mode='zero',
        ranking='energy',  # top-k patches by pooled HF energy
        use_lf_drop=True),
    # HF branches: BNNeck per branch, one shared classifier; ID + triplet
    # losses (same as the TransReID head's) weighted by min(0.05 e, 0.5).
    pha_head=dict(type='PHAHead', hf_weight_schedule=dict(step=0.05, max=0.5)),
    loss_pc=dict(
        type='PatchContrastiveLoss', temperature=1.0, loss_weight=1.0),
    use_hf_x=True,
    use_hf_xhf=True,
    use_contrastive=True)
