# Cross-domain TransReID*: trained on Market-1501 with the released recipe
# (ViT-B/16 stride 12 from ImageNet weights, 256x128, batch 64 = 16 ids x 4
# images, 120 epochs, JPM), tested in one run on Market-1501 (the source
# domain), MSMT17 and DukeMTMC-reID: the metrics come as market1501/mAP,
# msmt17/mAP, dukemtmc/R1, ... The best checkpoint is chosen on the source
# domain, so no target-domain label picks the weights.
# SIE camera is off: the target domains' cameras are not Market's six, and an
# embedding learnt for a Market camera says nothing about an MSMT17 one.
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/market1501.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

# num_classes='auto': the training identities of the train set (751), read
# when the runner starts; nothing restated here.
model = dict(
    backbone=dict(camera_num=0, view_num=0), head=dict(num_classes='auto'))

test_sets = dict(
    market1501={{_base_.dataset}},
    msmt17=dict(
        type='MSMT17',
        data_root='data/MSMT17_V1',
        version='v1',
        combine_train_val=True),
    dukemtmc=dict(type='DukeMTMC', data_root='data/dukemtmc'))

# One loader for all the query + gallery pairs; the metric scores each test
# set on its own (a query is ranked against its own gallery only).
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ReIDTestSets',
        test_sets=test_sets,
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='MultiTestSetMetric')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(save_best='market1501/mAP'))
