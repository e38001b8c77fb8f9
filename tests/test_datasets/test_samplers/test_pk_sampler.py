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


# The index streams of seed 0, batch 8 = 2 ids x 4, recorded from the
# PKSampler before the PKBatchSampler existed: the configs' batches must
# stay exactly these, so that the same seed trains to the same figures.
RECORDED = {
    (1, 0, 0): [
        1, 2, 2, 2, 4, 5, 3, 4, 47, 43, 44, 45, 34, 32, 33, 34, 0, 0, 0, 0, 14,
        13, 11, 12, 29, 28, 31, 30, 35, 36, 35, 35, 39, 38, 40, 41, 27, 25, 23,
        26, 6, 9, 8, 7, 18, 17, 15, 20
    ],
    (1, 0, 1): [
        31, 29, 28, 30, 1, 2, 2, 2, 18, 15, 20, 16, 43, 45, 47, 44, 24, 23, 22,
        27, 0, 0, 0, 0, 38, 42, 39, 37, 7, 9, 6, 8, 4, 5, 3, 3, 10, 14, 11, 12,
        36, 35, 36, 36, 34, 32, 33, 33
    ],
    (2, 0, 0): [
        1, 2, 2, 2, 4, 5, 3, 4, 0, 0, 0, 0, 14, 13, 11, 12, 39, 38, 40, 41, 27,
        25, 23, 26
    ],
    (2, 0, 1): [
        31, 29, 28, 30, 1, 2, 2, 2, 24, 23, 22, 27, 0, 0, 0, 0, 4, 5, 3, 3, 10,
        14, 11, 12
    ],
    (2, 1, 0): [
        47, 43, 44, 45, 34, 32, 33, 34, 29, 28, 31, 30, 35, 36, 35, 35, 6, 9,
        8, 7, 18, 17, 15, 20
    ],
    (2, 1, 1): [
        18, 15, 20, 16, 43, 45, 47, 44, 38, 42, 39, 37, 7, 9, 6, 8, 36, 35, 36,
        36, 34, 32, 33, 33
    ],
}


def _set_world(monkeypatch, rank, world_size):
    """Both samplers' view of the process group."""
    import mmengine.dataset.sampler as mmengine_sampler
    monkeypatch.setattr(pk_module, 'get_dist_info', lambda: (rank, world_size))
    monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda:
                        (rank, world_size))


def _loader(cfg, dataset, seed=0):
    from mmengine.runner import Runner
    return Runner.build_dataloader(
        dict(cfg, dataset=dataset, num_workers=0), seed=seed)


NEW_LAYOUT = dict(
    batch_size=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='PKBatchSampler', num_instances=4))


@pytest.mark.parametrize('key', sorted(RECORDED))
def test_index_stream_is_the_recorded_one(monkeypatch, key):
    world_size, rank, epoch = key
    sampler = _make(
        monkeypatch, rank=rank, world_size=world_size, batch_size=8)
    sampler.set_epoch(epoch)
    assert list(sampler) == RECORDED[key]
    # The dataloader of the configs yields the same indices, batch by batch.
    _set_world(monkeypatch, rank, world_size)
    loader = _loader(NEW_LAYOUT, LabelDataset(LABELS))
    loader.batch_sampler.set_epoch(epoch)
    batches = list(loader.batch_sampler)
    assert len(batches) == len(loader.batch_sampler) == sampler.num_steps
    assert sum(batches, []) == RECORDED[key]


def test_dist_sampler_seed_hook_reaches_the_pk_sampler(monkeypatch):
    from types import SimpleNamespace

    from mmengine.hooks import DistSamplerSeedHook
    _set_world(monkeypatch, 0, 1)
    loader = _loader(NEW_LAYOUT, LabelDataset(LABELS))
    runner = SimpleNamespace(
        epoch=1, train_loop=SimpleNamespace(dataloader=loader))
    DistSamplerSeedHook().before_train_epoch(runner)
    assert loader.batch_sampler.sampler.epoch == 1
    assert sum(loader.batch_sampler, []) == RECORDED[(1, 0, 1)]


@pytest.mark.parametrize('world_size', [1, 2])
def test_exact_counts_per_identity_and_rank(monkeypatch, world_size):
    # 8 identities x exactly K = 4 images: one epoch is one round of
    # groups, so every image appears exactly once over all ranks.
    labels = np.repeat(np.arange(8), 4)
    per_rank = []
    for rank in range(world_size):
        _set_world(monkeypatch, rank, world_size)
        loader = _loader(NEW_LAYOUT, LabelDataset(labels))
        batches = list(loader.batch_sampler)
        # ceil(32 / (8 x world)) steps of P = 2 ids x K = 4 on each rank.
        assert len(batches) == 4 // world_size
        for batch in batches:
            _check_pk(batch, 2, 4, labels)
        per_rank.append(Counter(int(labels[i]) for b in batches for i in b))
    # Each rank gets 4 / world identities, each with exactly 4 images, and
    # no identity is on two ranks.
    for counts in per_rank:
        assert sorted(counts.values()) == [4] * (8 // world_size)
    assert sum(per_rank, Counter()) == Counter({pid: 4 for pid in range(8)})


def test_uneven_identities_exact_counts():
    counts = [
        Counter(int(LABELS[i]) for i in RECORDED[(2, r, 0)]) for r in range(2)
    ]
    # Each rank: num_steps x P = 3 x 2 = 6 whole groups of K = 4 images, of
    # 6 identities that the other rank does not have in this epoch; the 12
    # identities (1 to 7 images each) are each drawn exactly once.
    assert [sorted(c.values()) for c in counts] == [[4] * 6, [4] * 6]
    assert not set(counts[0]) & set(counts[1])
    assert sum(counts, Counter()) == Counter({pid: 4 for pid in range(12)})


def test_batch_sampler_errors(monkeypatch):
    _set_world(monkeypatch, 0, 1)
    dataset = LabelDataset(LABELS)
    with pytest.raises(
            ValueError,
            match=r'batch_size \(10\) must be a multiple of num_instances K '
            r'\(4\)'):
        _loader(dict(NEW_LAYOUT, batch_size=10), dataset)
    with pytest.raises(ValueError, match=r'4 x 1 = 4 identities .* has 3'):
        _loader(
            dict(
                NEW_LAYOUT,
                batch_size=16,
                batch_sampler=dict(type='PKBatchSampler', num_instances=4)),
            LabelDataset([0, 1, 2]))
    with pytest.raises(
            ValueError,
            match=r'instead of a PKSampler \(batch_size 8, num_instances 4\)'):
        _loader(
            dict(
                NEW_LAYOUT,
                sampler=dict(type='PKSampler', batch_size=8, num_instances=4)),
            dataset)
    from mmpha.datasets import PKBatchSampler
    with pytest.raises(TypeError, match='got list without dataset, seed'):
        PKBatchSampler([0, 1, 2], batch_size=8)
