"""PKSampler: P x K batches, determinism, per-rank shares, epoch length."""
import math
from collections import Counter

import numpy as np
import pytest

import mmpha.datasets.samplers.pk_sampler as pk_module
from mmpha.datasets import PKSampler
from mmpha.registry import DATA_SAMPLERS

# 12 identities with 1..7 images each: some have fewer than K = 4.
COUNTS = [1, 2, 3, 4, 5, 6, 7, 4, 3, 2, 6, 5]
LABELS = np.repeat(np.arange(len(COUNTS)), COUNTS)


class LabelDataset:
    """The least a dataset needs: a length and its labels."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


class InfoDataset(LabelDataset):
    """A dataset that only exposes ``get_data_info``."""

    get_gt_labels = None

    def get_data_info(self, idx):
        return dict(gt_label=int(self.labels[idx]))


def _make(monkeypatch, rank=0, world_size=1, dataset=None, **kwargs):
    monkeypatch.setattr(pk_module, 'get_dist_info', lambda: (rank, world_size))
    kwargs.setdefault('seed', 0)
    return PKSampler(dataset or LabelDataset(LABELS), **kwargs)


def _batches(sampler):
    idxs = list(sampler)
    assert len(idxs) == len(sampler)
    b = sampler.batch_size
    return [idxs[i:i + b] for i in range(0, len(idxs), b)]


def _check_pk(batch, p, k, labels=LABELS):
    assert len(batch) == p * k
    groups = [batch[i:i + k] for i in range(0, len(batch), k)]
    pids = []
    for group in groups:
        group_labels = {int(labels[i]) for i in group}
        assert len(group_labels) == 1, group
        pids.append(group_labels.pop())
    assert len(set(pids)) == p, pids
    return set(pids)


@pytest.mark.parametrize('batch_size, k', [(8, 4), (12, 4), (6, 2)])
def test_single_rank_pk_structure(monkeypatch, batch_size, k):
    sampler = _make(monkeypatch, batch_size=batch_size, num_instances=k)
    steps = math.ceil(len(LABELS) / batch_size)
    assert sampler.num_steps == steps
    assert len(sampler) == steps * batch_size
    for batch in _batches(sampler):
        _check_pk(batch, batch_size // k, k)


def test_small_identities_sampled_with_replacement(monkeypatch):
    sampler = _make(monkeypatch, batch_size=8, num_instances=4)
    for epoch in range(20):
        sampler.set_epoch(epoch)
        for batch in _batches(sampler):
            for start in range(0, 8, 4):
                group = batch[start:start + 4]
                if LABELS[group[0]] == 0:  # the identity with one image
                    assert group == [0, 0, 0, 0]
                    return
    pytest.fail('identity 0 was never drawn in 20 epochs')


def test_every_identity_is_drawn(monkeypatch):
    sampler = _make(monkeypatch, batch_size=8, num_instances=4)
    seen = Counter()
    for epoch in range(10):
        sampler.set_epoch(epoch)
        seen.update(int(LABELS[i]) for i in sampler)
    assert set(seen) == set(range(len(COUNTS)))
    # Identities appear in proportion to their K-groups: the one with 7
    # images (one group) less often than twice the one with 4 (one group).
    assert seen[6] < 2 * seen[3] + 16


def test_deterministic_and_epoch_dependent(monkeypatch):
    a = _make(monkeypatch, batch_size=8, seed=3)
    b = _make(monkeypatch, batch_size=8, seed=3)
    assert list(a) == list(b)
    assert list(a) == list(a)  # iterating again gives the same epoch
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    c = _make(monkeypatch, batch_size=8, seed=4)
    assert list(c) != first
    fixed = _make(monkeypatch, batch_size=8, seed=3, shuffle=False)
    fixed.set_epoch(5)
    assert list(fixed) == first


def test_two_ranks_get_disjoint_identities(monkeypatch):
    r0 = _make(monkeypatch, rank=0, world_size=2, batch_size=8)
    r1 = _make(monkeypatch, rank=1, world_size=2, batch_size=8)
    # Epoch length is over the global batch: ceil(50 / 16) = 4 steps.
    assert r0.num_steps == r1.num_steps == math.ceil(len(LABELS) / 16)
    assert len(r0) == len(r1) == r0.num_steps * 8
    for epoch in (0, 1, 7):
        r0.set_epoch(epoch)
        r1.set_epoch(epoch)
        for b0, b1 in zip(_batches(r0), _batches(r1)):
            ids0, ids1 = _check_pk(b0, 2, 4), _check_pk(b1, 2, 4)
            assert not ids0 & ids1, (epoch, ids0, ids1)
            assert b0 != b1
    single = _make(monkeypatch, rank=0, world_size=1, batch_size=8)
    assert list(single) != list(r0)


def test_round_up(monkeypatch):
    down = _make(monkeypatch, batch_size=8, round_up=False)
    assert down.num_steps == len(LABELS) // 8
    tiny = _make(
        monkeypatch,
        dataset=LabelDataset([0, 0, 1, 1]),
        batch_size=8,
        round_up=False)
    assert tiny.num_steps == 1  # at least one step


def test_seed_synchronised_when_none(monkeypatch):
    monkeypatch.setattr(pk_module, 'sync_random_seed', lambda: 1234)
    sampler = _make(monkeypatch, batch_size=8, seed=None)
    assert sampler.seed == 1234


def test_data_info_fallback_and_registry(monkeypatch):
    monkeypatch.setattr(pk_module, 'get_dist_info', lambda: (0, 1))
    sampler = DATA_SAMPLERS.build(
        dict(type='PKSampler', batch_size=8, num_instances=4),
        default_args=dict(dataset=InfoDataset(LABELS), seed=0))
    reference = PKSampler(LabelDataset(LABELS), batch_size=8, seed=0)
    assert list(sampler) == list(reference)


def test_errors(monkeypatch):
    with pytest.raises(
            ValueError,
            match=r'batch_size \(10\) must be a '
            r'multiple of num_instances K \(4\)'):
        _make(monkeypatch, batch_size=10)
    with pytest.raises(ValueError, match='batch_size must be a positive'):
        _make(monkeypatch, batch_size=0)
    with pytest.raises(ValueError, match='num_instances must be a positive'):
        _make(monkeypatch, batch_size=8, num_instances=-4)
    with pytest.raises(
            ValueError,
            match=r'P x world_size = 4 x 1 = 4 identities .* has 3'):
        _make(monkeypatch, dataset=LabelDataset([0, 1, 2]), batch_size=16)
    with pytest.raises(ValueError, match=r'2 x 2 = 4 identities .* has 3'):
        _make(
            monkeypatch,
            world_size=2,
            dataset=LabelDataset([0, 1, 2, 2]),
            batch_size=8)
    with pytest.raises(TypeError, match='get_gt_labels'):
        _make(monkeypatch, dataset=[1, 2, 3], batch_size=4)
