# BoT (Luo et al., "Bag of Tricks and a Strong Baseline for Deep Person
# Re-identification", CVPRW 2019): mmpretrain's ResNet-50 from ImageNet
# weights with the last stride 1 (a 16x8 map at 256x128), global average
# pooling (ReIDModel's default for a CNN backbone), BNNeck, ID loss with
# label smoothing (eps 0.1) + batch-hard triplet (margin 0.3) on the pooled
# feature, the BN feature at test time. Leaf configs set num_classes.
model = dict(
    type='ReIDModel',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        strides=(1, 2, 2, 1),  # last stride 1
        out_indices=(3, ),
        style='pytorch',
        # mmpretrain's ImageNet-1k ResNet-50 (the whole classifier: only its
        # backbone. part is loaded); see configs/bot/README.md.
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/pretrained/'
            'resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone.')),
    head=dict(
        type='ReIDHead',
        num_classes=751,
        neck_feat='after',
        # (1 - eps) one-hot + eps / K targets, as in the paper.
        loss_cls=dict(
            type='LabelSmoothLoss',
            label_smooth_val=0.1,
            mode='original',
            loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=0.3, loss_weight=1.0)),
    flip_test=False,
    # Under DDP the triplet (and PHA's contrastive) losses mine in the
    # global batch and the BNNecks use its statistics, so N processes train
    # what one process with the same global batch trains.
    cross_rank_batch=True)
