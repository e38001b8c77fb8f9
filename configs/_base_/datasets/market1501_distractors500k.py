# Market-1501 + 500k distractors: the large-scale protocol of Zheng et al.
# (ICCV 2015, Sec. 5). Training is plain Market-1501; the gallery is the
# 15,913 test images followed by the distractors_500k images, unpacked into
# data/market1501/distractors_500k/ (see
# docs/en/user_guides/dataset_prepare.md#market-1501-500k-distractors).
# Each distractor has id -1, which no query has: it never matches.
_base_ = ['./market1501.py']

distractors = dict(
    type='ReIDDistractors',
    data_root={{_base_.dataset.data_root}},
    distractor_dir='distractors_500k',
    num_cameras=6,
    pipeline={{_base_.test_pipeline}})

val_dataloader = dict(
    dataset=dict(
        datasets=[*_base_.val_dataloader.dataset.datasets, distractors]))
test_dataloader = val_dataloader

# Exact mAP / CMC / mINP with the gallery in chunks: the ~16k x 520k
# distance matrix is never held whole.
val_evaluator = dict(type='ReIDMetric', mode='exact_chunked')
test_evaluator = val_evaluator
