import pytest
import torch

from mmpha.evaluation.functional import evaluate, faiss_available
from mmpha.evaluation.metrics import ReIDMetric


def _results(seed=0, num_q=6, num_g=40, dim=8):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(num_q + num_g, dim, generator=gen)
    pids = torch.randint(0, 4, (num_q + num_g, ), generator=gen)
    cams = torch.randint(0, 3, (num_q + num_g, ), generator=gen)
    return [
        dict(
            feature=feats[i],
            pid=int(pids[i]),
            camid=int(cams[i]),
            is_query=i < num_q) for i in range(num_q + num_g)
    ]


def _expected(results, **kwargs):
    q = [r for r in results if r['is_query']]
    g = [r for r in results if not r['is_query']]
    out = evaluate(
        torch.stack([r['feature'] for r in q]),
        torch.stack([r['feature'] for r in g]), [r['pid'] for r in q],
        [r['pid'] for r in g], [r['camid'] for r in q],
        [r['camid'] for r in g],
        max_rank=5,
        **kwargs)
    return dict(
        mAP=out['mAP'] * 100,
        mINP=out['mINP'] * 100,
        R1=out['CMC'][0] * 100,
        R5=out['CMC'][4] * 100)


@pytest.mark.parametrize('kwargs', [
    dict(mode='exact_chunked', gallery_chunk_size=7, chunk_size=4),
    dict(mode='auto', chunked_above=10, gallery_chunk_size=5),
    dict(mode='exact_chunked', dist_metric='cosine', norm_feat=False),
])
def test_exact_chunked_mode_equals_full(kwargs):
    results = _results()
    metric = ReIDMetric(ranks=(1, 5), max_rank=5, **kwargs)
    out = metric.compute_metrics(results)
    expected = _expected(
        results,
        dist_metric=kwargs.get('dist_metric', 'euclidean'),
        norm_feat=kwargs.get('norm_feat', True))
    assert out.keys() == expected.keys()
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, rel=1e-6, abs=1e-9)


def test_auto_mode_switch_is_logged(monkeypatch):
    from mmpha.evaluation.metrics import _large_scale_mode
    messages = []
    monkeypatch.setattr(_large_scale_mode, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    ReIDMetric(chunked_above=10).compute_metrics(_results())
    assert len(messages) == 1 and 'exact, chunked gallery' in messages[0]
    messages.clear()
    # At or below the threshold the full path runs (and logs elsewhere).
    ReIDMetric(chunked_above=40).compute_metrics(_results())
    assert messages == []


def test_bad_large_scale_options():
    with pytest.raises(ValueError, match='mode must be one of'):
        ReIDMetric(mode='fast')
    with pytest.raises(ValueError, match='does not re-rank'):
        ReIDMetric(mode='exact_chunked', rerank=True)
    with pytest.raises(ValueError, match='gallery_chunk_size'):
        ReIDMetric(gallery_chunk_size=0)
    with pytest.raises(ValueError, match='rerank_max_memory'):
        ReIDMetric(rerank_max_memory=-1)


def test_rerank_memory_limit_is_honoured():
    metric = ReIDMetric(
        rerank=True, rerank_max_memory=1e-9, ranks=(1, 5), max_rank=5)
    with pytest.raises(MemoryError, match='would need about'):
        metric.compute_metrics(_results())


@pytest.mark.skipif(not faiss_available(), reason='faiss is not installed')
def test_approximate_mode_is_named_approximate():
    results = _results(num_g=30)
    metric = ReIDMetric(
        mode='approximate', approx_topk=30, ranks=(1, 5), max_rank=5)
    out = metric.compute_metrics(results)
    expected = _expected(results)
    # Full-length exhaustive lists: the approximate numbers are exact.
    assert sorted(out) == ['approx_R1', 'approx_R5', 'approx_mAP']
    assert out['approx_mAP'] == pytest.approx(expected['mAP'], rel=1e-6)
    assert out['approx_R1'] == pytest.approx(expected['R1'])
