# The CPU check of cross-domain testing: a tiny TransReID (embed 64, 4
# blocks) trained from scratch on SynthReID (seed 0) and tested in one run on
# it and on a second SynthReID drawn with seed 1 (other identities), as
# synthreid/mAP and synthreid_s1/mAP. The best checkpoint is chosen on the
# source domain. A few CPU minutes on 2 cores (each SynthReID is generated
# on first use, about 30 s).
_base_ = [
    '../_base_/models/transreid_vit-tiny.py',
    '../_base_/datasets/synthreid_scratch.py',
    '../_base_/schedules/adamw_cosine_16e.py',
    '../_base_/cpu_runtime.py',
]

# num_classes='auto': read from the train set (75). No SIE camera: the
# target domain's cameras are not the source's.
model = dict(
    backbone=dict(img_size=(128, 64), camera_num=0, drop_path_rate=0.0),
    head=dict(num_classes='auto'))

synthreid_s1 = dict(
    type='SynthReID',
    data_root='data/synthreid_seed1',
    seed=1,
    auto_generate=True)

val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ReIDTestSets',
        test_sets=dict(
            synthreid={{_base_.dataset}}, synthreid_s1=synthreid_s1),
        pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='MultiTestSetMetric')
test_evaluator = val_evaluator

# One checkpoint at the end, and the best one by the source domain's mAP.
default_hooks = dict(
    checkpoint=dict(interval={{_base_.max_epochs}}, save_best='synthreid/mAP'))
