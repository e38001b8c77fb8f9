# TransReID (He et al., ICCV 2021): ViT-B/16 with overlapping patches
# (stride 12: a 21x10 grid at 256x128), global + JPM branches, BNNecks,
# ID + soft-margin triplet losses. Leaf configs set num_classes and SIE.
model = dict(
    type='ReIDModel',
    backbone=dict(
        type='TransReIDViT',
        arch='base',
        img_size=(256, 128),
        patch_size=16,
        stride=12,
        camera_num=0,
        view_num=0,
        sie_coef=3.0,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        # ImageNet-1k ViT-B/16 of timm (JAX-converted); see
        # docs/en/advanced_guides/transreid.md for where to get it.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/jx_vit_base_p16_224-80ecf9dd.pth')),
    # Jigsaw patch module: 4 local features from shifted + shuffled patches
    # through a copy of the last block.
    jpm=dict(
        type='JPM', num_parts=4, shift=5, shuffle_groups=2, rearrange=True),
    # One BNNeck + classifier per feature (global + 4 JPM parts).
    head=dict(
        type='ReIDHead',
        num_classes=751,
        neck_feat='before',
        global_weight=0.5,
        local_weight=0.5,
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=None, loss_weight=1.0)),
    flip_test=False,
    # Under DDP the triplet (and PHA's contrastive) losses mine in the
    # global batch and the BNNecks use its statistics, so N processes train
    # what one process with the same global batch trains.
    cross_rank_batch=True)
