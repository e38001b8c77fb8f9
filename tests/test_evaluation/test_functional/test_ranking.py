import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpha.evaluation.functional import (evaluate, evaluate_rank, fast_ranking,
                                         iter_distances, re_ranking,
                                         reference_rank)
from mmpha.utils import pairwise_distance

# The hand-computed case of tests/test_evaluation/test_reid_metric.py:
# mAP 0.325, mINP 0.3, CMC [0, 1/2, 1/2, 1/2, 1, 1, ...], q2 skipped.
HAND = dict(
    distmat=[[0.1, 0.2, 0.3, 0.3, 0.5, 0.3], [0.4, 0.4, 0.4, 0.4, 0.0, 0.9],
             [0.5, 0.1, 0.2, 0.3, 0.4, 0.6]],
    q_pids=[1, 2, 3],
    g_pids=[1, 0, 1, 2, 1, 3],
    q_camids=[0, 0, 0],
    g_camids=[0, 1, 1, 1, 2, 0])


@pytest.mark.parametrize('rank_fn', [reference_rank, evaluate_rank])
def test_hand_computed_case(rank_fn):
    out = rank_fn(**HAND, max_rank=8)
    assert out['mAP'] == pytest.approx(0.325, abs=1e-15)
    assert out['mINP'] == pytest.approx(0.3, abs=1e-15)
    assert out['CMC'].tolist() == [0, 0.5, 0.5, 0.5, 1, 1, 1, 1]
    assert (out['num_valid_queries'], out['num_queries']) == (2, 3)


def _random_case(seed, num_q, num_g, num_ids, num_cams, levels):
    """Random protocol data with many ties: few distance levels, few ids
    and cameras, hence also queries without any valid match."""
    rng = np.random.default_rng(seed)
    if levels is None:
        dist = rng.random((num_q, num_g)).astype(np.float32)
    else:
        dist = rng.integers(0, levels, (num_q, num_g)).astype(np.float32)
    return dict(
        distmat=dist,
        q_pids=rng.integers(0, num_ids, num_q),
        g_pids=rng.integers(0, num_ids, num_g),
        q_camids=rng.integers(0, num_cams, num_q),
        g_camids=rng.integers(0, num_cams, num_g))


@pytest.mark.parametrize('seed', range(8))
@pytest.mark.parametrize(
    'num_q,num_g,num_ids,num_cams,levels',
    [
        (30, 90, 10, 3, None),  # no ties
        (30, 90, 10, 3, 4),  # ties everywhere
        (40, 60, 40, 2, 2),  # many queries without a match
        (12, 300, 3, 2, 1),  # one distance: the gallery order decides
        (25, 2000, 60, 6, 50),  # several distance bins per row
    ])
def test_reference_and_fast_path_identical(seed, num_q, num_g, num_ids,
                                           num_cams, levels):
    case = _random_case(seed, num_q, num_g, num_ids, num_cams, levels)
    ref = reference_rank(**case, max_rank=num_g + 3)
    fast = evaluate_rank(**case, max_rank=num_g + 3)
    assert 0 < ref['num_valid_queries'] <= num_q
    assert fast['num_valid_queries'] == ref['num_valid_queries']
    assert fast['num_queries'] == ref['num_queries'] == num_q
    # CMC at every rank: the same counts, so the same bits.
    np.testing.assert_array_equal(fast['CMC'], ref['CMC'])
    # Per-query AP / INP are the same ratios; only the order of the float
    # sums over queries differs.
    assert fast['mAP'] == pytest.approx(ref['mAP'], rel=1e-14, abs=0)
    assert fast['mINP'] == pytest.approx(ref['mINP'], rel=1e-14, abs=0)


def test_fast_path_in_tiny_chunks_matches_reference(monkeypatch):
    case = _random_case(5, 20, 80, 6, 3, 3)
    ref = reference_rank(**case, max_rank=10)
    monkeypatch.setattr(fast_ranking, '_CHUNK_ELEMENTS', 7)
    fast = evaluate_rank(**case, max_rank=10)
    np.testing.assert_array_equal(fast['CMC'], ref['CMC'])
    assert fast['mAP'] == pytest.approx(ref['mAP'], rel=1e-14, abs=0)


def test_reference_without_valid_query_raises_like_fast_path():
    case = dict(
        distmat=[[0.1, 0.2]],
        q_pids=[1],
        g_pids=[1, 2],
        q_camids=[0],
        g_camids=[0, 0])
    for rank_fn in (reference_rank, evaluate_rank):
        with pytest.raises(ValueError, match='None of the 1 queries'):
            rank_fn(**case)
    with pytest.raises(ValueError, match='max_rank must be a positive int'):
        reference_rank(**case, max_rank=0)
    with pytest.raises(ValueError, match=r'q_pids must have shape \(1,\)'):
        reference_rank(**(case | dict(q_pids=[1, 2])))


def test_query_image_in_gallery_is_deleted():
    # The query's own image (distance 0, same id, same camera) is in the
    # gallery: the same-camera rule deletes it, so the positive from
    # camera 1 is at rank 2 after the distractor, not 3.
    case = dict(
        distmat=[[0.0, 0.1, 0.2]],
        q_pids=[4],
        g_pids=[4, 5, 4],
        q_camids=[0],
        g_camids=[0, 1, 1])
    for rank_fn in (reference_rank, evaluate_rank):
        out = rank_fn(**case, max_rank=3)
        assert out['CMC'].tolist() == [0.0, 1.0, 1.0]
        assert out['mAP'] == 0.5


@pytest.mark.parametrize('dist_metric', ['euclidean', 'cosine'])
@pytest.mark.parametrize('norm_feat', [True, False])
def test_evaluate_from_features_equals_ranking_their_distances(
        dist_metric, norm_feat):
    gen = torch.Generator().manual_seed(0)
    q, g = torch.randn(20, 8, generator=gen), torch.randn(70, 8, generator=gen)
    pids = torch.randint(0, 6, (90, ), generator=gen)
    cams = torch.randint(0, 3, (90, ), generator=gen)
    ids = (pids[:20], pids[20:], cams[:20], cams[20:])
    q_before = q.clone()
    out = evaluate(
        q, g, *ids, dist_metric=dist_metric, norm_feat=norm_feat, chunk_size=6)
    # The caller's features are left alone.
    assert torch.equal(q, q_before)
    if norm_feat or dist_metric == 'cosine':
        q, g = F.normalize(q, dim=1), F.normalize(g, dim=1)
    expected = reference_rank(pairwise_distance(q, g, dist_metric), *ids)
    np.testing.assert_array_equal(out['CMC'], expected['CMC'])
    assert out['mAP'] == pytest.approx(expected['mAP'], rel=1e-14)


def test_evaluate_re_ranked_and_iter_distances():
    gen = torch.Generator().manual_seed(1)
    q, g = torch.randn(9, 5, generator=gen), torch.randn(30, 5, generator=gen)
    pids = torch.randint(0, 4, (39, ), generator=gen)
    cams = torch.randint(0, 2, (39, ), generator=gen)
    ids = (pids[:9], pids[9:], cams[:9], cams[9:])
    out = evaluate(q, g, *ids, norm_feat=False, rerank=True, k1=4, k2=2)
    expected = evaluate_rank(re_ranking(q, g, k1=4, k2=2), *ids)
    assert out['mAP'] == expected['mAP']
    chunks = list(iter_distances(q, g, 'cosine', chunk_size=4))
    assert [c.shape for c in chunks] == [(4, 30), (4, 30), (1, 30)]
    torch.testing.assert_close(
        torch.cat(chunks), pairwise_distance(q, g, 'cosine'))


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(dist_metric='l2'), ValueError, "'euclidean' or 'cosine'"),
    (dict(chunk_size=0), ValueError, 'chunk_size must be a positive int'),
    (dict(max_rank=1.5), TypeError, 'max_rank must be a positive int'),
    (dict(k2=0), ValueError, 'k2 must be a positive int, got 0'),
])
def test_evaluate_invalid_arguments(kwargs, error, match):
    q = torch.ones(2, 3)
    with pytest.raises(error, match=match):
        evaluate(q, q, [0, 1], [0, 1], [0, 0], [1, 1], **kwargs)


def test_evaluate_invalid_features():
    with pytest.raises(ValueError, match='widths differ: 3 vs 4'):
        evaluate(
            torch.ones(2, 3), torch.ones(2, 4), [0, 1], [0, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match=r'gallery_feats must be a non-empty'):
        evaluate(torch.ones(2, 3), torch.ones(0, 3), [0, 1], [], [0, 0], [])
