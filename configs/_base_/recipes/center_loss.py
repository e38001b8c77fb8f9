# Recipe switch: BoT's center loss (Luo et al., CVPRW 2019) on the global
# feature before the BNNeck, weight 5e-4, centers stepped with lr
# center_lr = 0.5 on the unweighted gradient and no weight decay. The
# centers are trained by the config's optimiser: lr_mult below turns its lr
# into center_lr (exactly BoT's update with plain SGD; with Adam or
# momentum the centers follow that optimiser's rule). Add after the
# schedule in _base_ and set center_lr_mult = center_lr / optimizer lr when
# the leaf config changes the lr.
center_loss_weight = 0.0005
center_lr = 0.5
center_lr_mult = center_lr / 0.008  # the lr of sgd_cosine_120e.py
model = dict(
    head=dict(
        loss_center=dict(type='CenterLoss', loss_weight=center_loss_weight)))
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'loss_center.centers': dict(
                lr_mult=center_lr_mult, decay_mult=0.0)
        }))
