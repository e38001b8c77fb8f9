# BoT with a tiny ResNet-18 (width 16, last stride 1) trained from scratch on
# SynthReID at 128x64: the CPU check that a CNN trains through the shared
# ReIDModel, tools/train.py and the metric. No random erasing on a short run
# from scratch (the scratch dataset base); flip and pad + crop stay.
_base_ = [
    '../_base_/models/bot_r50.py',
    '../_base_/datasets/synthreid_scratch.py',
    '../_base_/schedules/adam_multistep_16e.py',
    '../_base_/cpu_runtime.py',
]

# 75 training identities; no pretrained weights (random initialisation).
model = dict(
    backbone=dict(depth=18, base_channels=16, stem_channels=16, init_cfg=None),
    head=dict(num_classes=75))

# One checkpoint, at the end of the schedule.
default_hooks = dict(checkpoint=dict(interval={{_base_.max_epochs}}))
