"""The VehicleID protocol against a NumPy reference written here."""
import numpy as np
import pytest
import torch

from mmpha.evaluation.functional import evaluate_vehicleid, vehicleid_split


def _data(seed=0, num_ids=7, num=40, dim=3):
    rng = np.random.default_rng(seed)
    # Every id at least twice, then random ones; small integer features so
    # that many distances tie exactly.
    pids = np.concatenate([
        np.repeat(np.arange(num_ids) * 3 + 1, 2),
        rng.integers(0, num_ids, num - 2 * num_ids) * 3 + 1
    ])
    rng.shuffle(pids)
    feats = rng.integers(0, 2, (num, dim)).astype(np.float32)
    return feats, pids


def _reference(feats, pids, query, gallery, max_rank):
    """AP and CMC of every query, one at a time, stable order, no filter."""
    aps, first = [], []
    for q in query:
        dist = np.sqrt(((feats[gallery] - feats[q])**2).sum(1))
        order = np.argsort(dist, kind='stable')
        match = pids[gallery][order] == pids[q]
        hits = np.flatnonzero(match) + 1
        aps.append(np.mean(np.arange(1, len(hits) + 1) / hits))
        first.append(hits[0])
    first = np.array(first)
    cmc = np.array([(first <= k).mean() for k in range(1, max_rank + 1)])
    return float(np.mean(aps)), cmc


def test_split_one_gallery_image_per_id():
    _, pids = _data()
    query, gallery = vehicleid_split(pids, seed=3)
    assert sorted(pids[gallery].tolist()) == sorted(set(pids.tolist()))
    assert np.intersect1d(query, gallery).size == 0
    assert sorted(np.concatenate([query, gallery
                                  ]).tolist()) == list(range(len(pids)))
    again = vehicleid_split(torch.as_tensor(pids), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((query, gallery), again))
    other = vehicleid_split(pids, seed=4)[1]
    assert not np.array_equal(gallery, other)


@pytest.mark.parametrize('trials, seed', [(1, 0), (4, 11)])
def test_matches_the_numpy_reference(trials, seed):
    feats, pids = _data()
    out = evaluate_vehicleid(
        torch.from_numpy(feats),
        pids,
        trials=trials,
        seed=seed,
        norm_feat=False,
        max_rank=5)
    maps, cmcs = [], []
    for t in range(trials):
        query, gallery = vehicleid_split(pids, seed + t)
        m, c = _reference(feats, pids, query, gallery, 5)
        maps.append(m)
        cmcs.append(c)
        assert out['trials'][t]['mAP'] == pytest.approx(m, abs=1e-6)
        np.testing.assert_allclose(out['trials'][t]['CMC'], c, atol=1e-6)
    assert out['mAP'] == pytest.approx(np.mean(maps), abs=1e-6)
    assert out['mAP_std'] == pytest.approx(np.std(maps), abs=1e-6)
    np.testing.assert_allclose(out['CMC'], np.mean(cmcs, 0), atol=1e-6)
    np.testing.assert_allclose(out['CMC_std'], np.std(cmcs, 0), atol=1e-6)
    assert out['num_gallery'] == len(set(pids.tolist()))
    assert out['num_queries'] == len(pids) - out['num_gallery']


def test_deterministic_per_seed_and_seed_matters():
    feats, pids = _data(seed=1)
    feats = torch.from_numpy(feats) + 0.01 * torch.randn(
        feats.shape, generator=torch.Generator().manual_seed(0))
    runs = [
        evaluate_vehicleid(feats, pids, trials=3, seed=s) for s in (5, 5, 6)
    ]
    assert runs[0]['mAP'] == runs[1]['mAP']
    np.testing.assert_array_equal(runs[0]['CMC'], runs[1]['CMC'])
    assert [r['mAP'] for r in runs[0]['trials']
            ] != [r['mAP'] for r in runs[2]['trials']]
    # Trial t of seed s is trial t - 1 of seed s + 1.
    assert runs[0]['trials'][1]['mAP'] == runs[2]['trials'][0]['mAP']


def test_no_camera_filtering_and_errors():
    # Two images of id 1 with identical features: the query finds its
    # gallery image at rank 1 (a camera filter would have removed it).
    feats = torch.tensor([[1., 0.], [1., 0.], [0., 1.], [0., 1.]])
    out = evaluate_vehicleid(feats, [1, 1, 2, 2], trials=2, max_rank=2)
    assert out['mAP'] == 1.0 and out['CMC'].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match='single image'):
        evaluate_vehicleid(feats, [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r'pids must have shape \(4,\)'):
        evaluate_vehicleid(feats, [1, 2])
    with pytest.raises(ValueError, match='trials'):
        evaluate_vehicleid(feats, [1, 1, 2, 2], trials=0)
