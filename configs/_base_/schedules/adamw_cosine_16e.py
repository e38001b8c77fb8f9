# The CPU recipe of the tiny SynthReID configs (a ViT trained from scratch
# in a few CPU minutes).
# A ViT from scratch does not train in a few hundred steps with the SGD
# recipe of the ImageNet-initialised model (loss_cls stays at ln 75): AdamW
# with decoupled weight decay on the matrices only, a one-epoch linear
# warm-up per iteration and a per-iteration cosine. lr 2e-3 was the best of
# 1e-3 / 2e-3 / 3e-3 / 4e-3 here.
max_epochs = 16
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
            'sie_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    # end=None: the end of training (train_cfg.max_epochs, filled in by
    # the tools), with T_max = end - begin.
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=1,
        end=None,
        convert_to_iter_based=True),
]
# One evaluation, at the end.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(base_batch_size=32, enable=False)
