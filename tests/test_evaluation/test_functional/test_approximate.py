import numpy as np
import pytest
import torch

from mmpha.evaluation.functional import (FeatureDistances, chunked_topk,
                                         evaluate, faiss_available, faiss_topk,
                                         reference_rank, topk_metrics)


def _ids(seed, num_q, num_g, num_ids=5, num_cams=3):
    gen = torch.Generator().manual_seed(seed)
    return dict(
        q_pids=torch.randint(0, num_ids, (num_q, ), generator=gen),
        g_pids=torch.randint(0, num_ids, (num_g, ), generator=gen),
        q_camids=torch.randint(0, num_cams, (num_q, ), generator=gen),
        g_camids=torch.randint(0, num_cams, (num_g, ), generator=gen))


def test_full_lists_give_the_exact_metrics():
    ids = _ids(0, 8, 30)
    dist = torch.rand(8, 30, generator=torch.Generator().manual_seed(1))
    order = torch.sort(dist, dim=1, stable=True).indices
    ref = reference_rank(dist, **ids, max_rank=10)
    out = topk_metrics(order, **ids, max_rank=10)
    assert out['mAP'] == pytest.approx(ref['mAP'], rel=1e-12)
    np.testing.assert_array_equal(out['CMC'], ref['CMC'])
    assert out['num_valid_queries'] == ref['num_valid_queries']


def test_truncated_lists_hand_case():
    # Query id 1 cam 0. Gallery: 0 id 1 cam 1, 1 id 2, 2 id 1 cam 0 (junk),
    # 3 id 1 cam 2. List [1, 2, 0]: after the junk, the positive 0 is at
    # rank 2 (AP term 1/2); positive 3 is missing from the list.
    ids = dict(
        q_pids=torch.tensor([1]),
        g_pids=torch.tensor([1, 2, 1, 1]),
        q_camids=torch.tensor([0]),
        g_camids=torch.tensor([1, 1, 0, 2]))
    out = topk_metrics(torch.tensor([[1, 2, 0]]), **ids, max_rank=3)
    assert out['mAP'] == pytest.approx(0.25)
    assert out['CMC'].tolist() == [0.0, 1.0, 1.0]
    # -1 marks no result; no positive in the list: not found.
    out = topk_metrics(torch.tensor([[1, -1]]), **ids, max_rank=3)
    assert (out['mAP'], out['CMC'].tolist()) == (0.0, [0.0, 0.0, 0.0])
    ids['q_pids'] = torch.tensor([7])
    with pytest.raises(ValueError, match='None of the 1 queries'):
        topk_metrics(torch.tensor([[1, 2]]), **ids)


def test_truncation_is_a_lower_bound():
    ids = _ids(2, 10, 60)
    dist = torch.rand(10, 60, generator=torch.Generator().manual_seed(3))
    order = torch.sort(dist, dim=1, stable=True).indices
    ref = reference_rank(dist, **ids, max_rank=5)
    out = topk_metrics(order[:, :8], **ids, max_rank=5)
    assert out['mAP'] <= ref['mAP']
    # Ranks 1..5 are within the 8 listed images minus the junk? Only the
    # CMC at ranks every list covers is exact: check rank 1.
    assert out['CMC'][0] == ref['CMC'][0]


def test_faiss_topk_needs_faiss(monkeypatch):
    if faiss_available():
        pytest.skip('faiss is installed')
    with pytest.raises(ImportError, match='pip install faiss-cpu'):
        faiss_topk(torch.randn(2, 4), torch.randn(5, 4))


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_faiss_flat_equals_exact_search(metric):
    pytest.importorskip('faiss')
    gen = torch.Generator().manual_seed(4)
    query, gallery = torch.randn(
        6, 16, generator=gen), torch.randn(
            50, 16, generator=gen)
    dists, index = faiss_topk(
        query, gallery, topk=7, dist_metric=metric, add_chunk=9)
    exact_d, exact_i = chunked_topk(
        FeatureDistances(query, gallery, metric), 7, gallery_chunk=11)
    assert torch.equal(index, exact_i)
    torch.testing.assert_close(dists, exact_d, atol=1e-5, rtol=1e-5)
    ids = _ids(5, 6, 50)
    _, full = faiss_topk(query, gallery, topk=50, dist_metric=metric)
    ref = evaluate(query, gallery, **ids, dist_metric=metric, max_rank=10)
    out = topk_metrics(full, **ids, max_rank=10)
    assert out['mAP'] == pytest.approx(ref['mAP'], rel=1e-9)
    np.testing.assert_array_equal(out['CMC'], ref['CMC'])


def test_faiss_ivf_index_is_trained():
    pytest.importorskip('faiss')
    gen = torch.Generator().manual_seed(6)
    gallery = torch.randn(400, 8, generator=gen)
    dists, index = faiss_topk(
        gallery[:5], gallery, topk=3, index_factory='IVF4,Flat', nprobe=4)
    # nprobe = nlist: every cell visited, so each query finds itself.
    assert index[:, 0].tolist() == list(range(5))
    assert torch.all(dists[:, 0] < 1e-3)
