# VehicleID: 13,164 training ids (num_classes=13164), no cameras and no
# views (SIE off). Layout: docs/en/user_guides/dataset_prepare.md#vehicleid
# The 256x256 pipelines of the VeRi-776 base. Evaluation is VehicleID's own
# protocol: the dataset gives the whole test list (split='test', test_size
# 800, 1600 or 2400 ids) and VehicleIDMetric draws, in each of 10 seeded
# trials, one gallery image per id (the rest are queries) and reports the
# mean and standard deviation over the trials.
_base_ = './veri776.py'

dataset = dict(type='VehicleID', data_root='data/VehicleID_V1.0')

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **dataset,
        split='train',
        pipeline=_base_.train_pipeline))

val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **dataset,
        split='test',
        test_size=800,  # or 1600, 2400
        pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='VehicleIDMetric', trials=10, seed=0, ranks=(1, 5))
test_evaluator = val_evaluator
