import pytest
import torch
import torch.nn.functional as F

from mmpha.apis import pairwise_distance, search


def test_search_euclidean_hand_made():
    query = torch.tensor([[0., 0.], [3., 1.]])
    gallery = torch.tensor([[3., 0.], [1., 0.], [0., 2.], [-0.5, 0.]])
    dists, idx = search(query, gallery, topk=3, normalize=False)
    assert idx.tolist() == [[3, 1, 2], [0, 1, 2]]
    expected = torch.tensor([[0.5, 1.0, 2.0], [1.0, 5**0.5, 10**0.5]])
    torch.testing.assert_close(dists, expected)


def test_search_cosine_ignores_norm():
    query = torch.tensor([[1., 0.]])
    # Directions at 90, 10, 45 and 180 degrees, with very different norms.
    gallery = torch.tensor([[0., 5.], [10 * 0.98481, 10 * 0.17365], [0.1, 0.1],
                            [-3., 0.]])
    dists, idx = search(query, gallery, topk=4, metric='cosine')
    assert idx.tolist() == [[1, 2, 0, 3]]
    torch.testing.assert_close(dists[0, [2, 3]], torch.tensor([1.0, 2.0]))


def test_search_normalize_changes_euclidean_order():
    query = torch.tensor([[1., 0.]])
    gallery = torch.tensor([[10., 0.], [0.5, 0.5]])
    assert search(query, gallery, topk=1, normalize=False)[1].item() == 1
    assert search(query, gallery, topk=1, normalize=True)[1].item() == 0


def test_search_exclude_and_topk_clamp():
    query = torch.tensor([[0.], [5.]])
    gallery = torch.tensor([[0.], [1.], [4.]])
    exclude = torch.tensor([[True, False, False], [False, False, False]])
    dists, idx = search(
        query, gallery, topk=10, normalize=False, exclude=exclude)
    assert idx.shape == (2, 3)
    assert idx[0].tolist() == [1, 2, 0]
    assert dists[0, -1] == float('inf')
    assert idx[1].tolist() == [2, 1, 0]


def test_search_chunks_agree():
    torch.manual_seed(0)
    q, g = torch.randn(37, 8), torch.randn(50, 8)
    d1, i1 = search(q, g, topk=5)
    d2, i2 = search(q, g, topk=5, chunk_size=4)
    assert torch.equal(i1, i2)
    torch.testing.assert_close(d1, d2)
    full = torch.cdist(
        torch.nn.functional.normalize(q), torch.nn.functional.normalize(g))
    torch.testing.assert_close(
        d1, full.sort(dim=1).values[:, :5], atol=1e-5, rtol=0)


def test_search_bad_input():
    q, g = torch.randn(2, 4), torch.randn(3, 4)
    with pytest.raises(
            ValueError,
            match="metric must be 'euclidean' or 'cosine', got 'l1'"):
        search(q, g, metric='l1')
    with pytest.raises(ValueError, match='topk must be a positive int'):
        search(q, g, topk=0)
    with pytest.raises(ValueError, match='chunk_size must be a positive int'):
        search(q, g, chunk_size=0)
    with pytest.raises(ValueError, match='widths differ: 4 vs 5'):
        pairwise_distance(q, torch.randn(3, 5))
    with pytest.raises(ValueError, match='widths differ: 4 vs 5'):
        search(q, torch.randn(3, 5))
    with pytest.raises(ValueError, match='query_feats must be a 2-D'):
        search(torch.randn(4), g)
    with pytest.raises(ValueError, match='x must be a 2-D'):
        pairwise_distance(torch.randn(4), g)
    with pytest.raises(ValueError, match=r'exclude must have shape'):
        search(q, g, exclude=torch.zeros(3, 2, dtype=torch.bool))


def _previous_search_distance(q, g, metric, normalize):
    """What ``search`` computed before it used the shared distance."""
    q, g = q.float(), g.float()
    if normalize or metric == 'cosine':
        q, g = F.normalize(q, dim=1), F.normalize(g, dim=1)
    if metric == 'cosine':
        return 1.0 - q @ g.t()
    sq = (q * q).sum(1, keepdim=True) + (g * g).sum(1)[None] - 2.0 * q @ g.t()
    return sq.clamp_min(0).sqrt()


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
@pytest.mark.parametrize('normalize', [True, False])
def test_search_distances_bit_identical_to_before(metric, normalize):
    gen = torch.Generator().manual_seed(4)
    q, g = torch.randn(
        23, 16, generator=gen), torch.randn(
            41, 16, generator=gen)
    dists, idx = search(
        q, g, topk=41, metric=metric, normalize=normalize, chunk_size=23)
    expected = _previous_search_distance(q, g, metric, normalize)
    # Cosine distances are now clamped at 0 (none is negative here).
    assert (expected >= 0).all()
    assert torch.equal(dists, expected.gather(1, idx))
    assert torch.equal(idx, expected.topk(41, dim=1, largest=False).indices)


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_search_gallery_chunks_equal_a_stable_sort(metric):
    gen = torch.Generator().manual_seed(7)
    # Entries of +-1/2 in 4-d: unit vectors, 16 distinct ones among 36, so
    # many exact ties (all distances are exact in float32 and float16),
    # which the chunked search orders by gallery index.
    gallery = torch.randint(0, 2, (36, 4), generator=gen).float() - 0.5
    query = torch.randint(0, 2, (4, 4), generator=gen).float() - 0.5
    exclude = torch.zeros(4, 36, dtype=torch.bool)
    exclude[0, 1] = True
    dists, index = search(
        query,
        gallery.half(),
        topk=9,
        metric=metric,
        exclude=exclude,
        chunk_size=3,
        gallery_chunk_size=5)
    sim = query @ gallery.t()
    full = 1 - sim if metric == 'cosine' else (2 - 2 * sim).sqrt()
    full[exclude] = float('inf')
    order = torch.sort(full, dim=1, stable=True)
    assert torch.equal(index, order.indices[:, :9])
    torch.testing.assert_close(dists, order.values[:, :9])
    # Above the threshold the chunked path is taken automatically.
    auto = search(query, gallery, topk=9, chunk_gallery_above=10)
    # (Unit vectors: the Euclidean order is the cosine one.)
    assert torch.equal(auto[1], order.indices[:, :9])
    assert torch.equal(
        auto[1],
        search(query, gallery, topk=9, gallery_chunk_size=36)[1])
