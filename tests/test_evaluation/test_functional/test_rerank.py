import math

import numpy as np
import pytest
import torch

from mmpha.evaluation.functional import iter_re_ranking, re_ranking, rerank


def _naive_re_ranking(query, gallery, k1, k2, lambda_value, metric):
    """The authors' dense algorithm, loop for loop, in float64 NumPy."""
    feats = np.concatenate([query, gallery]).astype(np.float64)
    num_query, all_num = query.shape[0], feats.shape[0]
    if metric == 'euclidean':
        dist = ((feats[:, None] - feats[None])**2).sum(-1)
    else:
        unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        dist = np.clip(1 - unit @ unit.T, 0, None)
        np.fill_diagonal(dist, 0)
    original = np.transpose(dist / np.max(dist, axis=0))
    initial_rank = np.argsort(original, axis=1, kind='stable')
    V = np.zeros_like(original)
    for i in range(all_num):
        forward = initial_rank[i, :k1 + 1]
        backward = initial_rank[forward, :k1 + 1]
        k_reciprocal = forward[np.where(backward == i)[0]]
        expansion = k_reciprocal
        half = int(np.around(k1 / 2)) + 1
        for candidate in k_reciprocal:
            c_forward = initial_rank[candidate, :half]
            c_backward = initial_rank[c_forward, :half]
            c_reciprocal = c_forward[np.where(c_backward == candidate)[0]]
            if len(np.intersect1d(c_reciprocal,
                                  k_reciprocal)) > 2 / 3 * len(c_reciprocal):
                expansion = np.append(expansion, c_reciprocal)
        expansion = np.unique(expansion)
        weight = np.exp(-original[i, expansion])
        V[i, expansion] = weight / np.sum(weight)
    if k2 != 1:
        V = np.stack(
            [np.mean(V[initial_rank[i, :k2]], axis=0) for i in range(all_num)])
    jaccard = np.zeros((num_query, all_num))
    for i in range(num_query):
        temp_min = np.zeros(all_num)
        for col in np.where(V[i] != 0)[0]:
            rows = np.where(V[:, col] != 0)[0]
            temp_min[rows] += np.minimum(V[i, col], V[rows, col])
        jaccard[i] = 1 - temp_min / (2 - temp_min)
    final = jaccard * (1 - lambda_value) + original[:num_query] * lambda_value
    return final[:, num_query:]


def test_hand_computed_case():
    # 1-D features q = 0, g1 = 1, g2 = 3, k1 = 1, k2 = 1 (no expansion).
    # Squared distances: d(q,g1) = 1, d(q,g2) = 9, d(g1,g2) = 4; each row
    # is divided by its maximum: q -> [0, 1/9, 1], g1 -> [1/4, 0, 1],
    # g2 -> [1, 4/9, 0].
    # Nearest two: q: (q, g1), g1: (g1, q), g2: (g2, g1). R(q) = {q, g1},
    # R(g1) = {q, g1}; g2 is not among g1's two nearest, so R(g2) = {g2}.
    # With k1 / 2 rounded to 0, R(c, 0) = {c} lies inside R(i), so the
    # expansion adds nothing.
    # V(q) = [1, a, 0] / (1 + a) with a = exp(-1/9);
    # V(g1) = [b, 1, 0] / (1 + b) with b = exp(-1/4); V(g2) = [0, 0, 1].
    a, b = math.exp(-1 / 9), math.exp(-1 / 4)
    overlap = min(1 / (1 + a), b / (1 + b)) + min(a / (1 + a), 1 / (1 + b))
    jaccard_g1 = 1 - overlap / (2 - overlap)
    expected = [0.7 * jaccard_g1 + 0.3 * (1 / 9), 0.7 * 1 + 0.3 * 1]
    assert expected[0] == pytest.approx(0.14884, abs=1e-5)
    dist = re_ranking(
        torch.tensor([[0.]]), torch.tensor([[1.], [3.]]), k1=1, k2=1)
    assert dist.shape == (1, 2)
    assert dist.dtype == torch.float32
    np.testing.assert_allclose(dist[0].numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize('k1,k2,lambda_value', [(2, 1, 0.3), (3, 2, 0.3),
                                                (4, 3, 0.5), (5, 6, 0.0),
                                                (20, 6, 0.3), (1, 4, 1.0)])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_naive_implementation(k1, k2, lambda_value, seed):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(3, 4))
    gallery = rng.normal(size=(6, 4))
    expected = _naive_re_ranking(query, gallery, k1, k2, lambda_value,
                                 'euclidean')
    dist = re_ranking(
        torch.from_numpy(query),
        torch.from_numpy(gallery),
        k1=k1,
        k2=k2,
        lambda_value=lambda_value)
    np.testing.assert_allclose(dist.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_matches_naive_implementation_with_default_parameters():
    # Clustered features (8 identities) so that the k-reciprocal sets and
    # their expansion are not trivial, with k1 + 1 well below N.
    rng = np.random.default_rng(9)
    centres = rng.normal(size=(8, 6))
    feats = centres[rng.integers(0, 8, 50)] + 0.4 * rng.normal(size=(50, 6))
    query, gallery = feats[:12], feats[12:]
    expected = _naive_re_ranking(query, gallery, 20, 6, 0.3, 'euclidean')
    dist = re_ranking(torch.from_numpy(query), torch.from_numpy(gallery))
    np.testing.assert_allclose(dist.numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('seed', [3, 4])
def test_matches_naive_implementation_cosine(seed):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(4, 8))
    gallery = rng.normal(size=(9, 8))
    expected = _naive_re_ranking(query, gallery, 3, 3, 0.3, 'cosine')
    dist = re_ranking(
        torch.from_numpy(query),
        torch.from_numpy(gallery),
        k1=3,
        k2=3,
        dist_metric='cosine')
    np.testing.assert_allclose(dist.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_chunking_and_batching_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(5)
    query = torch.from_numpy(rng.normal(size=(7, 6)))
    gallery = torch.from_numpy(rng.normal(size=(23, 6)))
    full = re_ranking(query, gallery, k1=6, k2=3)
    chunks = list(iter_re_ranking(query, gallery, k1=6, k2=3, chunk_size=2))
    assert [c.shape[0] for c in chunks] == [2, 2, 2, 1]
    torch.testing.assert_close(torch.cat(chunks), full)
    # Force the Jaccard step to process its index pairs in many batches.
    monkeypatch.setattr(rerank, '_PAIR_BUDGET', 5)
    torch.testing.assert_close(
        re_ranking(query, gallery, k1=6, k2=3, chunk_size=3), full)


def test_lambda_one_gives_normalised_original_distance():
    rng = np.random.default_rng(6)
    query = torch.from_numpy(rng.normal(size=(3, 5))).float()
    gallery = torch.from_numpy(rng.normal(size=(8, 5))).float()
    feats = torch.cat([query, gallery])
    sq = torch.cdist(feats, feats)**2
    expected = sq[:3, 3:] / sq[:3].amax(1, keepdim=True)
    dist = re_ranking(query, gallery, k1=3, k2=2, lambda_value=1.0)
    torch.testing.assert_close(dist, expected, rtol=1e-4, atol=1e-5)


def test_exact_duplicate_of_the_query_comes_first_at_zero():
    rng = np.random.default_rng(7)
    query = torch.from_numpy(rng.normal(size=(2, 5))).float()
    gallery = torch.from_numpy(rng.normal(size=(10, 5))).float()
    gallery[4] = query[0]
    dist = re_ranking(query, gallery, k1=4, k2=1)
    # Identical images have identical k-reciprocal vectors (Jaccard 0) and
    # zero original distance.
    assert dist[0, 4].item() == pytest.approx(0.0, abs=1e-6)
    assert int(dist[0].argmin()) == 4
    assert (dist[0, torch.arange(10) != 4] > 1e-2).all()


def test_distances_are_in_unit_range():
    rng = np.random.default_rng(8)
    dist = re_ranking(
        torch.from_numpy(rng.normal(size=(5, 4))),
        torch.from_numpy(rng.normal(size=(12, 4))))
    assert dist.shape == (5, 12)
    assert float(dist.min()) >= 0 and float(dist.max()) <= 1 + 1e-6


@pytest.mark.parametrize('kwargs,match', [
    (dict(k1=0), 'k1 must be a positive int, got 0'),
    (dict(k2=2.5), 'k2 must be a positive int, got 2.5'),
    (dict(lambda_value=1.5), r'lambda_value must be a number in \[0, 1\]'),
    (dict(dist_metric='l1'), "dist_metric must be 'euclidean' or 'cosine'"),
    (dict(chunk_size=0), 'chunk_size must be a positive int, got 0'),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        re_ranking(torch.zeros(2, 3), torch.ones(3, 3), **kwargs)


def test_invalid_shapes():
    with pytest.raises(ValueError, match='widths differ: 3 vs 4'):
        re_ranking(torch.zeros(2, 3), torch.ones(3, 4))
    with pytest.raises(
            ValueError, match=r'query_feats must be a non-empty.*\(0, 3\)'):
        re_ranking(torch.zeros(0, 3), torch.ones(3, 3))
    with pytest.raises(ValueError, match='gallery_feats must be a non-empty'):
        re_ranking(torch.zeros(2, 3), torch.ones(3))


def test_rerank_memory_estimate_and_limit(monkeypatch):
    from mmpha.evaluation.functional import (check_rerank_memory,
                                             iter_re_ranking)
    from mmpha.evaluation.functional import rerank as rerank_module
    from mmpha.evaluation.functional import rerank_memory

    # Hand count for 2 queries, 3 gallery images, 4-d, k1=1, k2=1, c=2.
    terms = rerank_memory(2, 3, 4, k1=1, k2=1, chunk_size=2)
    assert terms['features'] == 5 * 4 * 4
    assert terms['distance_chunk'] == 2 * 2 * 5 * 4
    assert terms['neighbours'] == 5 * 2 * 10
    assert terms['sparse_vectors'] == 5 * 4 * 20
    assert terms['total'] == sum(v for k, v in terms.items() if k != 'total')
    # A million-image gallery is refused before anything is allocated.
    with pytest.raises(
            MemoryError,
            match=r'1000000 gallery images .* '
            r'would need about \d+\.\d GiB'):
        check_rerank_memory(3368, 1_000_000, 768)
    assert check_rerank_memory(3368, 1_000_000, 768, max_memory=None) > 2**33

    def no_cat(*args, **kwargs):
        raise AssertionError('allocated before checking the memory')

    monkeypatch.setattr(rerank_module.torch, 'cat', no_cat)
    with pytest.raises(MemoryError, match='more than the limit of 0.0 GiB'):
        next(
            iter_re_ranking(
                torch.randn(2, 4), torch.randn(3, 4), max_memory=10))
