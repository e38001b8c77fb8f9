# PHA on Market-1501, evaluated with the 500k distractors added to the
# gallery (large-scale protocol); model, schedule and training are those of
# pha_vit-base-p16-s12_in1k-pre_1xb48-12x4_120e_market1501-256x128.py.
_base_ = [
    '../_base_/models/pha_vit-base.py',
    '../_base_/datasets/market1501_distractors500k.py',
    '../_base_/schedules/sgd_cosine_120e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(camera_num=0, view_num=0), head=dict(num_classes=751))

# P x K = 12 x 4 (K from the dataset base).
train_dataloader = dict(batch_size=48)
