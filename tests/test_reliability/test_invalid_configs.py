"""Invalid configs fail at build time with messages naming key and value."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from reliability_utils import PHA_CONFIG, tiny_cfg

from mmpha.apis.benchmark import make_reid_batch
from mmpha.registry import DATASETS, MODELS


@pytest.fixture(scope='module')
def model_cfg(repo_root):
    return Config.fromfile(osp.join(repo_root, PHA_CONFIG)).model


@pytest.mark.parametrize('path,typo', [
    ((), 'PHAA'),
    (('backbone', ), 'TransReIDVit'),
    (('head', ), 'TransReidHead'),
    (('neck', ), 'PHANek'),
    (('head', 'loss_triplet'), 'TripletLos'),
])
def test_unknown_type_names_the_value(model_cfg, path, typo):
    cfg = copy.deepcopy(model_cfg)
    node = cfg
    for key in path:
        node = node[key]
    node['type'] = typo
    with pytest.raises(
            KeyError, match=f'{typo} is not in the mmpha::model '
            'registry'):
        MODELS.build(cfg)


@pytest.mark.slow
def test_unknown_type_through_the_train_tool(tmp_path, repo_root):
    proc = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools', 'train.py'),
        osp.join(repo_root, PHA_CONFIG), '--work-dir',
        str(tmp_path), '--cfg-options', 'model.backbone.type=TransReIDVit'
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'TransReIDVit is not in the mmpha::model registry' in proc.stderr


def test_missing_num_classes_names_the_key(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    del cfg.head['num_classes']
    with pytest.raises(TypeError, match="argument: 'num_classes'"):
        MODELS.build(cfg)
    cfg.head['num_classes'] = 0
    with pytest.raises(
            ValueError, match='num_classes must be a positive int, '
            'got 0'):
        MODELS.build(cfg)


def test_batch_not_a_multiple_of_k(tmp_path, tiny_synthreid, repo_root,
                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tiny_cfg(repo_root, osp.relpath(tiny_synthreid), 'work')
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.batch_size = 6
    loader.batch_sampler.num_instances = 4
    with pytest.raises(
            ValueError,
            match=r'batch_size \(6\) must be a multiple of num_instances K '
            r'\(4\)'):
        Runner.build_dataloader(loader, seed=0)


def test_input_size_incompatible_with_the_patch_grid(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg.backbone.img_size = (8, 8)
    with pytest.raises(
            ValueError,
            match='image size 8x8 is smaller than the patch size 16x16'):
        MODELS.build(cfg)

    # A model built for 128x64 fed the 64x32 output of another pipeline.
    model = MODELS.build(copy.deepcopy(model_cfg))
    batch = make_reid_batch(8, 4, (64, 32), num_classes=75, num_cameras=6)
    data = model.data_preprocessor(batch, True)
    with pytest.raises(
            ValueError,
            match=r'input size 64x32 does not fit the backbone, built for '
            r'img_size 128x64 \(patch grid 10x5'):
        model(data['inputs'], data['data_samples'], mode='loss')


def test_out_of_range_camera_id_names_the_bound(model_cfg):
    model = MODELS.build(copy.deepcopy(model_cfg))
    batch = make_reid_batch(8, 4, (128, 64), num_classes=75, num_cameras=6)
    batch['data_samples'][0].set_cam_id(9)
    data = model.data_preprocessor(batch, True)
    with torch.no_grad(), pytest.raises(
            ValueError, match=r'cam_ids must be in \[0, 6\), got .*9'):
        model(data['inputs'], data['data_samples'], mode='loss')


def test_missing_dataset_root_names_the_path(tmp_path):
    missing = str(tmp_path / 'no' / 'market1501')
    with pytest.raises(FileNotFoundError, match=f'"{missing}" does not exist'):
        DATASETS.build(dict(type='Market1501', data_root=missing))
    missing = str(tmp_path / 'no' / 'synthreid')
    with pytest.raises(FileNotFoundError, match=f'"{missing}" does not exist'):
        DATASETS.build(
            dict(type='SynthReID', data_root=missing, auto_generate=False))
