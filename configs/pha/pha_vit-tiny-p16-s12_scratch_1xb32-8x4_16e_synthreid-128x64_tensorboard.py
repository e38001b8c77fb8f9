# The README's PHA run on SynthReID, logging to TensorBoard as well as to
# the work dir: scalars (losses, lr, mAP / Rank-1) go to
# work_dirs/<config>/<timestamp>/vis_data/. View them with
#   tensorboard --logdir work_dirs/<config name>
# (needs `pip install tensorboard`, listed in requirements/optional.txt).
_base_ = ['./pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py']

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
