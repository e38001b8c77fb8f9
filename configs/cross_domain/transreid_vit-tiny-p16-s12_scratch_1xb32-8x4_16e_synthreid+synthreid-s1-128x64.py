# The CPU check of combined training: a tiny TransReID (embed 64, 4 blocks)
# trained from scratch on two SynthReIDs drawn with seeds 0 and 1, combined
# (75 + 75 identities, 6 + 6 cameras, offset so that none collide), and
# tested on each in one run (synthreid/mAP, synthreid_s1/mAP). A few CPU
# minutes on 2 cores (each SynthReID is generated on first use, about 30 s).
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid_scratch.py',
    '../_base_/schedules/adamw_cosine_16e.py',
    '../_base_/cpu_runtime.py',
]

# 'auto': 150 identities and 12 cameras, read from the combined train set.
model = dict(
    backbone=dict(img_size=(128, 64), camera_num='auto', drop_path_rate=0.0),
    head=dict(num_classes='auto'))

synthreid = {{_base_.dataset}}
synthreid_s1 = dict(
    type='SynthReID',
    data_root='data/synthreid_seed1',
    seed=1,
    auto_generate=True)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CombinedReIDDataset',
        datasets=[synthreid, synthreid_s1],
        # The names of the test sets below, for the log.
        names=['synthreid', 'synthreid_s1'],
        pipeline={{_base_.train_pipeline}}))

# Same datasets, same order: each test set keeps its training camera offset.
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ReIDTestSets',
        test_sets=dict(synthreid=synthreid, synthreid_s1=synthreid_s1),
        cam_offsets='cumulative',
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='MultiTestSetMetric')
test_evaluator = val_evaluator

default_hooks = dict(
    checkpoint=dict(interval={{_base_.max_epochs}}, save_best='synthreid/mAP'))
