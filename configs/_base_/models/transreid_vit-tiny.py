# A tiny TransReID for CPU runs and tests: embed 64, 4 blocks, no pretrained
# weights (truncated-normal initialisation as in timm), same heads and
# losses as the ViT-B model.
model = dict(
    type='ReIDModel',
    backbone=dict(
        type='TransReIDViT',
        arch=dict(
            embed_dims=64, num_layers=4, num_heads=4,
            feedforward_channels=256),
        img_size=(128, 64),
        patch_size=16,
        stride=12,
        camera_num=0,
        view_num=0,
        sie_coef=3.0,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=[
            dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0),
            dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0),
        ]),
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
