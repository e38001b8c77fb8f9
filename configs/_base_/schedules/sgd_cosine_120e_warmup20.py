# The TransReID-SSL recipe for person-pretrained (LUPerson) ViTs
# (damo-cv/TransReID-SSL, transreid_pytorch/configs/market/vit_small.yml):
# TransReID's SGD schedule (sgd_cosine_120e.py: momentum 0.9, weight decay
# 1e-4, bias lr x2, cosine to 0.002 x lr over 120 epochs) with lr 4e-4 for a
# batch of 64 and 20 warm-up epochs from 0.01 x lr. The chained LinearLR over
# epochs 0-20 on the cosine reaches the release's curve at epoch 20; during
# the warm-up it runs below timm's linear ramp by at most the cosine's drop
# over those epochs (7 % of lr at epoch 20).
_base_ = './sgd_cosine_120e.py'

optim_wrapper = dict(optimizer=dict(lr=0.0004))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        end_factor=1.0,
        by_epoch=True,
        begin=0,
        end=21),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.002,
        by_epoch=True,
        begin=0,
        end=None),
]
