# TransReID-SSL's ViT-S baseline on MSMT17: LUPerson self-supervised ViT-S/16,
# stride 16, 256x128, batch 64 = 16 ids x 4 images, SGD lr 4e-4, 20 warm-up
# epochs, 120 epochs, no JPM / SIE. Needs data/pretrained/vit_small_cfs_lup.pth
# (docs/en/user_guides/pretrained_weights.md). Train with --amp on a GPU.
_base_ = [
    '../_base_/models/transreid_vit-small.py',
    '../_base_/datasets/msmt17.py',
    '../_base_/schedules/sgd_cosine_120e_warmup20.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=1041))
