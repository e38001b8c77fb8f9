import os.path as osp
import textwrap

import pytest
from mmengine.config import Config


def _write(path, text):
    with open(path, 'w') as f:
        f.write(textwrap.dedent(text))


def test_leaf_config_inherits_and_overrides_nested_keys(tmp_path):
    base_dir = tmp_path / '_base_'
    base_dir.mkdir()
    _write(
        base_dir / 'model.py', """
        model = dict(
            type='ReIDModel',
            backbone=dict(type='TransReIDViT', arch='base', stride=12,
                          drop_path_rate=0.1),
            head=dict(type='ReIDHead', num_classes=751,
                      loss_triplet=dict(type='TripletLoss', margin=None)))
        """)
    _write(
        base_dir / 'schedule.py', """
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.008,
                                            momentum=0.9))
        train_cfg = dict(by_epoch=True, max_epochs=120)
        """)
    _write(
        tmp_path / 'leaf.py', """
        _base_ = ['./_base_/model.py', './_base_/schedule.py']
        model = dict(backbone=dict(stride=16),
                     head=dict(num_classes=1041,
                               loss_triplet=dict(margin=0.3)))
        train_cfg = dict(max_epochs=60)
        """)
    cfg = Config.fromfile(str(tmp_path / 'leaf.py'))
    # Overridden leaves.
    assert cfg.model.backbone.stride == 16
    assert cfg.model.head.num_classes == 1041
    assert cfg.model.head.loss_triplet.margin == 0.3
    assert cfg.train_cfg.max_epochs == 60
    # Inherited siblings survive the merge.
    assert cfg.model.backbone.arch == 'base'
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.head.loss_triplet.type == 'TripletLoss'
    assert cfg.train_cfg.by_epoch is True
    assert cfg.optim_wrapper.optimizer.lr == 0.008

    cfg.merge_from_dict({
        'optim_wrapper.optimizer.lr': 0.016,
        'model.backbone.arch': 'small'
    })
    assert cfg.optim_wrapper.optimizer.lr == 0.016
    assert cfg.model.backbone.arch == 'small'
    assert cfg.model.backbone.stride == 16


def test_delete_key_replaces_whole_dict(tmp_path):
    _write(
        tmp_path / 'base.py', """
        loss = dict(type='TripletLoss', margin=0.3, loss_weight=1.0)
        """)
    _write(
        tmp_path / 'leaf.py', """
        _base_ = './base.py'
        loss = dict(_delete_=True, type='SoftTriplet')
        """)
    cfg = Config.fromfile(str(tmp_path / 'leaf.py'))
    assert dict(cfg.loss) == {'type': 'SoftTriplet'}


def test_default_runtime_scope(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    assert cfg.default_scope == 'mmpha'
    assert cfg.default_hooks.checkpoint.save_best == 'mAP'


def test_missing_base_named(tmp_path):
    _write(tmp_path / 'leaf.py', "_base_ = './not_here.py'\n")
    with pytest.raises(Exception, match='not_here.py'):
        Config.fromfile(str(tmp_path / 'leaf.py'))
