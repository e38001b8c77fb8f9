"""Every base dataset config builds its datasets and pipelines."""
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.runner import Runner
from reid_fakes import (CUHK03_FILES, DUKE_FILES, MARKET_FILES, OCC_DUKE_FILES,
                        make_folder_layout, make_msmt17, make_vehicleid,
                        make_veri)

from mmpha.registry import DATASETS, MODELS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets')
EXPECTED = {
    'market1501': (256, 128),
    'msmt17': (256, 128),
    'msmt17_v2': (256, 128),
    'cuhk03_labeled': (256, 128),
    'cuhk03_detected': (256, 128),
    'dukemtmc': (256, 128),
    'occluded_duke': (256, 128),
    'veri776': (256, 256),
    'synthreid': (128, 64),
    'synthreid_scratch': (128, 64),
}
# Pipelines of the bases that define them (the others inherit them).
PIPELINE_BASES = ('market1501', 'synthreid', 'synthreid_scratch', 'veri776')
TINY_SYNTH = dict(
    num_ids=12,
    num_train_ids=8,
    num_cameras=2,
    cams_per_id=2,
    imgs_per_cam=2,
    num_distractors=1,
    family_size=2,
    img_height=64,
    img_width=32)


def test_every_dataset_has_a_config():
    names = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))
    }
    assert set(EXPECTED) | {'vehicleid'} <= names


def _fake_root(name: str, tmp_path) -> str:
    root = str(tmp_path / name)
    if name in ('market1501', 'synthreid', 'synthreid_scratch'):
        return make_folder_layout(root, MARKET_FILES, height=40, width=20)
    if name == 'dukemtmc':
        return make_folder_layout(root, DUKE_FILES, height=40, width=20)
    if name == 'occluded_duke':
        return make_folder_layout(root, OCC_DUKE_FILES, height=40, width=20)
    if name == 'veri776':
        return make_veri(root)
    if name.startswith('cuhk03'):
        for subset in ('labeled', 'detected'):
            make_folder_layout(osp.join(root, subset), CUHK03_FILES)
        return root
    return make_msmt17(root, 'v2' if name.endswith('v2') else 'v1')


def _set_root(node, root, spec=None):
    if isinstance(node, dict):
        if 'data_root' in node:
            node['data_root'] = root
            if spec is not None:
                node['spec'] = dict(spec)
        for value in node.values():
            _set_root(value, root, spec)
    elif isinstance(node, list):
        for value in node:
            _set_root(value, root, spec)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_structure(name):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, f'{name}.py'))
    loader = cfg.train_dataloader
    # P x K stated once: the batch by batch_size, K by the batch sampler.
    assert loader.sampler == dict(type='DefaultSampler', shuffle=True)
    assert loader.batch_sampler == dict(type='PKBatchSampler', num_instances=4)
    assert loader.batch_size % 4 == 0
    assert 'batch_size' not in cfg and 'num_instances' not in cfg
    assert loader.dataset.split == 'train'
    val = cfg.val_dataloader
    assert val.sampler == dict(type='DefaultSampler', shuffle=False)
    assert val.dataset.type == 'ConcatDataset'
    assert [d.split for d in val.dataset.datasets] == ['query', 'gallery']
    assert cfg.test_dataloader == val
    assert cfg.val_evaluator.type == cfg.test_evaluator.type == 'ReIDMetric'
    pre = MODELS.build(cfg.data_preprocessor)
    assert pre.to_rgb and pre.mean.flatten().tolist() == [127.5] * 3
    train_types = [t['type'] for t in cfg.train_pipeline]
    if name == 'synthreid_scratch':
        # Training from scratch: no random erasing, the rest unchanged.
        assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
        base = Config.fromfile(osp.join(CONFIG_DIR, 'synthreid.py'))
        assert cfg.train_pipeline == [
            t for t in base.train_pipeline if t.type != 'RandomErasing'
        ]
        return
    assert train_types == [
        'LoadReIDImage', 'Resize', 'RandomFlip', 'RandomCrop', 'RandomErasing',
        'PackReIDInputs'
    ]
    erasing = cfg.train_pipeline[4]
    assert erasing.mode == 'rand' and erasing.erase_prob == 0.5
    assert cfg.train_pipeline[1].interpolation == 'bicubic'
    assert cfg.train_pipeline[2].prob == 0.5


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_eval_sets_are_the_train_data_split_in_two(name):
    """Query and gallery are defined once, from the data's one ``dataset``."""
    path = osp.join(CONFIG_DIR, f'{name}.py')
    cfg = Config.fromfile(path)
    named = dict(cfg.dataset)
    assert named['type'] == cfg.train_dataloader.dataset.type
    assert cfg.val_dataloader.dataset.datasets == [
        dict(named, split=split, pipeline=cfg.test_pipeline)
        for split in ('query', 'gallery')
    ]
    assert cfg.train_dataloader.dataset == dict(
        named, split='train', pipeline=cfg.train_pipeline)
    if name not in PIPELINE_BASES:
        # A dataset base states its fields, not the splits.
        text = open(path).read()
        assert 'split=' not in text and 'pipeline=' not in text, name


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_config_builds_and_runs(name, tmp_path):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, f'{name}.py'))
    root = _fake_root(name, tmp_path)
    spec = None
    if name.startswith('synthreid'):
        root = str(tmp_path / 'synth')
        spec = TINY_SYNTH
    train_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    val_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    _set_root(train_cfg, root, spec)
    _set_root(val_cfg, root, spec)
    train = DATASETS.build(train_cfg)
    val = DATASETS.build(val_cfg)
    query_len = len(val.datasets[0])
    assert len(val) == query_len + len(val.datasets[1])
    assert val.get_data_info(0)['is_query'] is True
    assert val.get_data_info(len(val) - 1)['is_query'] is False

    h, w = EXPECTED[name]
    out = train[0]
    assert out['inputs'].shape == (3, h, w)
    assert out['inputs'].dtype == torch.uint8
    out = val[len(val) - 1]
    assert out['inputs'].shape == (3, h, w)
    assert out['data_samples'].is_query is False

    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(
        dataset=train,
        num_workers=0,
        prefetch_factor=None,
        batch_size=loader_cfg.batch_sampler.num_instances * 2)
    batch_sampler = Runner.build_dataloader(loader_cfg, seed=0).batch_sampler
    sampler = batch_sampler.sampler
    batch = [train[i] for i in next(iter(batch_sampler))]
    pre = MODELS.build(cfg.data_preprocessor)
    data = pre(
        dict(
            inputs=[b['inputs'] for b in batch],
            data_samples=[b['data_samples'] for b in batch]), True)
    assert data['inputs'].shape == (sampler.batch_size, 3, h, w)
    labels = [s.gt_label.item() for s in data['data_samples']]
    assert len(set(labels)) == 2 and labels[0] == labels[3]


def test_train_pipeline_pads_crops_and_erases(tmp_path):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'market1501.py'))
    pipeline = Compose(cfg.train_pipeline)
    path = str(tmp_path / 'grey.png')
    cv2.imwrite(path, np.full((128, 64, 3), 100, np.uint8))
    outputs = [
        pipeline(dict(img_path=path, gt_label=0, cam_id=0))['inputs']
        for _ in range(60)
    ]
    assert all(o.shape == (3, 256, 128) for o in outputs)
    # A constant image stays 100 after the resize; the padding adds 0.
    padded = sum(bool((o == 0).any()) for o in outputs)
    erased = sum(bool(((o != 0) & (o != 100)).any()) for o in outputs)
    assert padded > 45  # only an offset of exactly 10 in both axes has none
    assert 15 < erased < 45  # erase_prob 0.5


def test_vehicleid_config_trains_and_tests_on_the_pool(tmp_path):
    """VehicleID: the 256x256 pipelines, a test pool and its own metric."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'vehicleid.py'))
    root = make_vehicleid(str(tmp_path / 'VehicleID_V1.0'))
    base = Config.fromfile(osp.join(CONFIG_DIR, 'veri776.py'))
    assert cfg.train_pipeline == base.train_pipeline
    assert cfg.train_dataloader.dataset == dict(
        type='VehicleID',
        data_root='data/VehicleID_V1.0',
        split='train',
        pipeline=cfg.train_pipeline)
    assert cfg.val_dataloader.dataset == dict(
        type='VehicleID',
        data_root='data/VehicleID_V1.0',
        split='test',
        test_size=800,
        pipeline=cfg.test_pipeline)
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.val_evaluator == dict(
        type='VehicleIDMetric', trials=10, seed=0, ranks=(1, 5))
    assert cfg.test_evaluator == cfg.val_evaluator
    train_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    test_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    _set_root(train_cfg, root)
    _set_root(test_cfg, root)
    assert DATASETS.build(train_cfg)[0]['inputs'].shape == (3, 256, 256)
    test = DATASETS.build(test_cfg)
    assert test[0]['data_samples'].is_query is False
    assert len(test) == 6
