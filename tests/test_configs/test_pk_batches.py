"""Every config's train loader yields P ids x K images, on 1 and 2 ranks.

The batch is stated once (``train_dataloader.batch_size``, P x K) and K once
(``batch_sampler.num_instances``); the loader is built by MMEngine's
``Runner.build_dataloader`` on a fake dataset, so the check is the one every
tool gets.
"""
import glob
import os.path as osp
import re
from collections import Counter

import mmengine.dataset.sampler as mmengine_sampler
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmpha.datasets.samplers.pk_sampler as pk_module

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT) for path in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if 'train_dataloader' in Config.fromfile(path))
# 130 identities x 6 images: enough for P x world = 64 x 2 (VehicleID).
LABELS = np.repeat(np.arange(130), 6)


class _Labels:

    def __len__(self):
        return len(LABELS)

    def get_gt_labels(self):
        return LABELS


def _batches(loader_cfg, rank, world_size, monkeypatch):
    for module in (pk_module, mmengine_sampler):
        monkeypatch.setattr(module, 'get_dist_info', lambda:
                            (rank, world_size))
    loader = Runner.build_dataloader(
        dict(
            loader_cfg, dataset=_Labels(), num_workers=0,
            prefetch_factor=None),
        seed=0)
    return list(loader.batch_sampler)


def test_every_training_config_is_checked():
    assert len(TRAIN_CONFIGS) >= 20, TRAIN_CONFIGS


@pytest.mark.parametrize('world_size', [1, 2])
@pytest.mark.parametrize('path', TRAIN_CONFIGS)
def test_train_loader_yields_p_ids_x_k_images(path, world_size, monkeypatch):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    loader = cfg.train_dataloader
    assert loader.batch_sampler.type == 'PKBatchSampler', path
    assert 'batch_size' not in loader.batch_sampler, path
    assert 'batch_size' not in loader.sampler, path
    batch, k = loader.batch_size, loader.batch_sampler.num_instances
    p = batch // k
    # A name's "-PxK_" (as in 1xb48-12x4_) is the loader's.
    named = re.search(r'xb(\d+)-(\d+)x(\d+)_', osp.basename(path))
    if named:
        assert tuple(map(int, named.groups())) == (batch, p, k), path
    steps = -(-len(LABELS) // (batch * world_size))
    per_rank = []
    for rank in range(world_size):
        batches = _batches(loader, rank, world_size, monkeypatch)
        assert len(batches) == steps
        counts = Counter()
        for b in batches:
            groups = [LABELS[b[i:i + k]] for i in range(0, batch, k)]
            assert len(b) == batch
            assert all(len(set(g)) == 1 for g in groups), (path, b)
            assert len({g[0] for g in groups}) == p
            counts.update(int(g[0]) for g in groups)
        per_rank.append(counts)
    # Exactly steps x P groups of K images per rank.
    assert [sum(c.values()) for c in per_rank] == [steps * p] * world_size


def test_inconsistent_p_x_k_fails_with_both_values(monkeypatch):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/market1501.py'))
    loader = cfg.train_dataloader
    loader.batch_size = 30
    with pytest.raises(
            ValueError,
            match=r'batch_size \(30\) must be a multiple of num_instances K '
            r'\(4\)'):
        _batches(loader, 0, 1, monkeypatch)
