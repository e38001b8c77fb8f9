# Variant: a true quantisation of LL (step 5 grey levels, straight-through
# gradient) instead of the released smooth rounding, which barely moves LL.
# Everything else is the SynthReID PHA config.
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

model = dict(neck=dict(quant_mode='hard'))
