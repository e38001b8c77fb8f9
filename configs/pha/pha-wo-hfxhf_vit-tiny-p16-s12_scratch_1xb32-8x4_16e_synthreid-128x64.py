# Ablation: without the HF branch on x_hf (c): no ID / triplet loss on the HF
# tokens of x_hf. The contrastive loss still uses them.
# Everything else is the SynthReID PHA config.
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

model = dict(use_hf_xhf=False)
