import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmpha.registry import VISUALIZERS

CONFIG = ('configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_'
          'synthreid-128x64_tensorboard.py')


def test_tensorboard_config_adds_only_the_backend(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    assert [b['type'] for b in cfg.visualizer.vis_backends
            ] == ['LocalVisBackend', 'TensorboardVisBackend']
    # Everything but the visual backend is the plain PHA config.
    base = Config.fromfile(
        osp.join(repo_root, CONFIG.replace('_tensorboard', '')))
    assert cfg.model == base.model
    assert cfg.train_dataloader == base.train_dataloader
    assert cfg.visualizer.type == base.visualizer.type


def test_tensorboard_config_writes_event_files(repo_root, tmp_path):
    pytest.importorskip('tensorboard')
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    vis = VISUALIZERS.build(
        dict(cfg.visualizer, save_dir=str(tmp_path), name='tb_config_test'))
    vis.add_scalars({'loss': 1.5, 'mAP': 0.25}, step=1)
    vis.close()
    events = glob.glob(
        str(tmp_path / '**' / 'events.out.tfevents.*'), recursive=True)
    assert len(events) == 1
    assert osp.isfile(tmp_path / 'vis_data' / 'scalars.json')
