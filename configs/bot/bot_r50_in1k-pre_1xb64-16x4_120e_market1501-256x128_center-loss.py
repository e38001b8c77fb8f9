# BoT with its last trick, the center loss (Luo et al., CVPRW 2019, Sec.
# 3.6): on the global feature before the BNNeck, weight 5e-4, centers
# stepped by their own SGD with lr 0.5 (CenterLoss; the model's Adam never
# sees them). Everything else as the BoT config.
_base_ = './bot_r50_in1k-pre_1xb64-16x4_120e_market1501-256x128.py'

model = dict(
    head=dict(
        loss_center=dict(type='CenterLoss', loss_weight=0.0005,
                         center_lr=0.5)))
