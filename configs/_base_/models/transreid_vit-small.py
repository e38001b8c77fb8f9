# The TransReID-SSL baseline (Luo et al., "Self-Supervised Pre-Training for
# Transformer-Based Person Re-Identification", 2021): ViT-S/16 (embed 384,
# depth 12, 6 heads) from LUPerson self-supervised weights, non-overlapping
# patches (stride 16: a 16x8 grid at 256x128), no JPM, no SIE, BNNeck, ID +
# soft-margin triplet losses, pre-BN test features. Leaf configs set
# num_classes.
model = dict(
    type='ReIDModel',
    backbone=dict(
        type='TransReIDViT',
        arch='small',
        img_size=(256, 128),
        patch_size=16,
        stride=16,
        camera_num=0,
        view_num=0,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        # TransReID-SSL's LUPerson ViT-S (DINO on LUPerson, "CFS" filtered
        # subset), pretrained at 256x128; the plain-stem file, not the "ics"
        # one. See docs/en/user_guides/pretrained_weights.md.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/vit_small_cfs_lup.pth',
            layout='auto')),
    head=dict(
        type='ReIDHead',
        num_classes=751,
        neck_feat='before',
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=None, loss_weight=1.0)),
    flip_test=False)
