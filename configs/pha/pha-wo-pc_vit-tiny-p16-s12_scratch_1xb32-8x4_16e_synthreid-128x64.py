# Ablation: without the patch-wise contrastive loss (both pairs).
# Everything else is the SynthReID PHA config.
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

model = dict(use_contrastive=False)
