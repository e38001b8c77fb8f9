# TransReID* trained on Market-1501 + MSMT17 + DukeMTMC-reID combined (their
# identities and cameras offset so that none collide: 751 + 1,041 + 702 =
# 2,494 identities, 6 + 15 + 8 = 29 cameras), tested on each of the three in
# one run (market1501/mAP, msmt17/mAP, dukemtmc/mAP, ...). The released
# recipe otherwise: ViT-B/16 stride 12 from ImageNet weights, 256x128, batch
# 64 = 16 ids x 4 images, 120 epochs, JPM, SIE camera (coefficient 3.0).
_base_ = [
    '../_base_/models/transreid_vit-base.py',
    '../_base_/datasets/market1501.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

# 'auto': read from the combined train set when the runner starts, so the
# classifier and the camera embedding follow the list of datasets below.
model = dict(
    backbone=dict(camera_num='auto', view_num=0),
    head=dict(num_classes='auto'))

market1501 = {{_base_.dataset}}
msmt17 = dict(
    type='MSMT17',
    data_root='data/MSMT17_V1',
    version='v1',
    combine_train_val=True)
dukemtmc = dict(type='DukeMTMC', data_root='data/dukemtmc')

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CombinedReIDDataset',
        datasets=[market1501, msmt17, dukemtmc],
        pipeline={{_base_.train_pipeline}}))

# The same datasets in the same order: 'cumulative' gives each test set the
# camera offset it had in training, so SIE sees the cameras it learnt.
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ReIDTestSets',
        test_sets=dict(
            market1501=market1501, msmt17=msmt17, dukemtmc=dukemtmc),
        cam_offsets='cumulative',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='MultiTestSetMetric')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(save_best='market1501/mAP'))
