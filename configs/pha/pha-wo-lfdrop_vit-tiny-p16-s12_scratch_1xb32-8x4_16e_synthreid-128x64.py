# Ablation: without the low-frequency drop: x_hf is x itself, so branch (c)
# sees the same tokens as (b).
# Everything else is the SynthReID PHA config.
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

model = dict(neck=dict(use_lf_drop=False))
