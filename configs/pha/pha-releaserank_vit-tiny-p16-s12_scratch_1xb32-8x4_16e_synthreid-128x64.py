# Variant: the released patch selection (the first 40 % of the HF-marked
# patches in raster order, nearest-neighbour mask) instead of top-k energy.
# Everything else is the SynthReID PHA config.
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

model = dict(neck=dict(ranking='release'))
