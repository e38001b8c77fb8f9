import numpy as np
import pytest
import torch

from mmpha.evaluation.functional import (FeatureDistances, MatrixDistances,
                                         chunked_rank, chunked_topk, evaluate,
                                         evaluate_chunked, large_scale,
                                         reference_rank)


def _case(seed, num_q, num_g, levels, num_ids=4, num_cams=2):
    """Protocol data with many ties (few distance levels, ids, cameras)."""
    rng = np.random.default_rng(seed)
    if levels is None:
        dist = rng.random((num_q, num_g))
    else:
        dist = rng.integers(0, levels, (num_q, num_g))
    return dict(
        distmat=torch.from_numpy(dist.astype(np.float32)),
        q_pids=torch.from_numpy(rng.integers(0, num_ids, num_q)),
        g_pids=torch.from_numpy(rng.integers(0, num_ids, num_g)),
        q_camids=torch.from_numpy(rng.integers(0, num_cams, num_q)),
        g_camids=torch.from_numpy(rng.integers(0, num_cams, num_g)))


def _assert_same(out, ref):
    assert out['num_valid_queries'] == ref['num_valid_queries']
    assert out['num_queries'] == ref['num_queries']
    # Identical ranks: the CMC counts are equal, AP / INP up to summation
    # order.
    np.testing.assert_array_equal(out['CMC'], ref['CMC'])
    assert out['mAP'] == pytest.approx(ref['mAP'], rel=1e-12)
    assert out['mINP'] == pytest.approx(ref['mINP'], rel=1e-12)


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('levels', [None, 3, 1])
@pytest.mark.parametrize('chunks', [(1, 1), (2, 3), (4, 7), (64, 64)])
def test_chunked_rank_equals_reference(seed, levels, chunks):
    data = _case(seed, 9, 31, levels)
    distmat = data.pop('distmat')
    ref = reference_rank(distmat, **data, max_rank=40)
    out = chunked_rank(
        MatrixDistances(distmat),
        **data,
        max_rank=40,
        query_chunk=chunks[0],
        gallery_chunk=chunks[1])
    _assert_same(out, ref)


def test_chunked_rank_hand_case():
    # One query (id 1, cam 0); gallery: id 1 cam 1 (0.3), id 2 (0.1),
    # id 1 cam 0 (junk, 0.2): the positive is second -> AP = INP = 1/2.
    out = chunked_rank(
        MatrixDistances(torch.tensor([[0.3, 0.1, 0.2]])),
        torch.tensor([1]),
        torch.tensor([1, 2, 1]),
        torch.tensor([0]),
        torch.tensor([1, 1, 0]),
        max_rank=3,
        query_chunk=1,
        gallery_chunk=1)
    assert (out['mAP'], out['mINP']) == (0.5, 0.5)
    assert out['CMC'].tolist() == [0.0, 1.0, 1.0]


def test_queries_without_candidates_and_no_valid_query():
    data = _case(0, 4, 10, 3)
    distmat = data.pop('distmat')
    data['q_pids'] = torch.tensor([0, 9, 9, 1])  # two ids absent
    ref = reference_rank(distmat, **data, max_rank=5)
    out = chunked_rank(
        MatrixDistances(distmat), **data, max_rank=5, query_chunk=2)
    _assert_same(out, ref)
    data['q_pids'] = torch.tensor([9, 9, 9, 9])
    with pytest.raises(ValueError, match='None of the 4 queries'):
        chunked_rank(MatrixDistances(distmat), **data)


def test_non_finite_distances_raise():
    data = _case(1, 3, 8, None)
    distmat = data.pop('distmat')
    distmat[1, 5] = float('nan')
    with pytest.raises(ValueError, match='finite'):
        chunked_rank(MatrixDistances(distmat), **data, gallery_chunk=3)


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_evaluate_chunked_equals_evaluate_on_features(metric):
    # Entries of +-1/2 in 4-d: unit vectors whose distances are exact in
    # float32 whatever the blocking, so ties are real ties in both paths.
    gen = torch.Generator().manual_seed(0)
    query = torch.randint(0, 2, (7, 4), generator=gen).float() - 0.5
    gallery = torch.randint(0, 2, (40, 4), generator=gen).float() - 0.5
    ids = dict(
        q_pids=torch.randint(0, 3, (7, ), generator=gen),
        g_pids=torch.randint(0, 3, (40, ), generator=gen),
        q_camids=torch.randint(0, 2, (7, ), generator=gen),
        g_camids=torch.randint(0, 2, (40, ), generator=gen))
    ref = evaluate(query, gallery, **ids, dist_metric=metric)
    out = evaluate_chunked(
        query,
        gallery,
        **ids,
        dist_metric=metric,
        query_chunk=3,
        gallery_chunk=6)
    _assert_same(out, ref)


def test_float16_gallery_matches_float32_copy():
    gen = torch.Generator().manual_seed(1)
    query = torch.randn(5, 8, generator=gen)
    gallery = torch.randn(30, 8, generator=gen).half()
    ids = dict(
        q_pids=[0, 1, 2, 0, 1],
        g_pids=torch.randint(0, 3, (30, ), generator=gen),
        q_camids=[0, 0, 1, 1, 0],
        g_camids=torch.randint(0, 2, (30, ), generator=gen))
    half = evaluate_chunked(query, gallery, **ids, gallery_chunk=4)
    full = evaluate_chunked(query, gallery.float(), **ids, gallery_chunk=4)
    _assert_same(half, full)


@pytest.mark.parametrize('levels', [None, 2])
def test_chunked_topk_is_the_stable_order(levels):
    data = _case(3, 6, 23, levels)
    distmat = data['distmat']
    order = torch.sort(distmat, dim=1, stable=True)
    for k, chunks in ((5, (2, 4)), (23, (4, 5)), (40, (6, 23))):
        values, index = chunked_topk(
            MatrixDistances(distmat),
            k,
            query_chunk=chunks[0],
            gallery_chunk=chunks[1])
        kk = min(k, 23)
        assert torch.equal(index, order.indices[:, :kk])
        assert torch.equal(values, order.values[:, :kk])


def test_chunked_topk_exclude_and_features():
    gen = torch.Generator().manual_seed(2)
    query, gallery = torch.randn(
        4, 6, generator=gen), torch.randn(
            17, 6, generator=gen)
    exclude = torch.zeros(4, 17, dtype=torch.bool)
    exclude[:, :3] = True
    values, index = chunked_topk(
        FeatureDistances(query, gallery), 4, gallery_chunk=5, exclude=exclude)
    assert int(index.min()) >= 3
    dist = torch.cdist(
        torch.nn.functional.normalize(query),
        torch.nn.functional.normalize(gallery))
    dist[exclude] = float('inf')
    expected = torch.sort(dist, dim=1, stable=True)
    assert torch.equal(index, expected.indices[:, :4])
    torch.testing.assert_close(values, expected.values[:, :4])


def test_memory_is_bounded_by_the_chunks(monkeypatch):
    # The blocks asked for are the only (C, B) tensors: every other
    # temporary is (C, K) or one entry per near image of a block.
    data = _case(5, 20, 600, None, num_ids=20)
    distmat = data.pop('distmat')
    sizes = []

    class Recording(MatrixDistances):

        def block(self, q0, q1, g0, g1):
            sizes.append((q1 - q0, g1 - g0))
            return super().block(q0, q1, g0, g1)

    monkeypatch.setattr(large_scale, 'BLOCK_ELEMENTS', 256)
    out = chunked_rank(Recording(distmat), **data, query_chunk=8)
    _assert_same(out, reference_rank(distmat, **data))
    # query_chunk x (BLOCK_ELEMENTS // query_chunk), every gallery image
    # once per query chunk.
    assert max(q * g for q, g in sizes) == 8 * 32
    assert sum(g for _, g in sizes) == 600 * 3


def test_bad_chunk_sizes():
    data = _case(0, 3, 5, None)
    distmat = data.pop('distmat')
    with pytest.raises(ValueError, match='query_chunk'):
        chunked_rank(MatrixDistances(distmat), **data, query_chunk=0)
    with pytest.raises(ValueError, match='gallery_chunk'):
        chunked_topk(MatrixDistances(distmat), 3, gallery_chunk=-1)
