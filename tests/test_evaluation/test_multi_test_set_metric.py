"""MultiTestSetMetric: each test set scored on its own, names as prefixes."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from mmpha.evaluation import MultiTestSetMetric
from mmpha.structures import ReIDDataSample


def _reference(feats, pids, cams, is_query):
    """mAP and R1 (in %) of one test set, in plain Python: L2-normalised
    features, Euclidean distance, gallery images of the query's id and
    camera removed, queries without a match skipped."""
    feats = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    q = [i for i in range(len(pids)) if is_query[i]]
    g = [i for i in range(len(pids)) if not is_query[i]]
    aps, r1 = [], []
    for i in q:
        dist = [float(np.linalg.norm(feats[i] - feats[j])) for j in g]
        order = sorted(range(len(g)), key=lambda k: (dist[k], k))
        kept = [
            g[k] for k in order
            if not (pids[g[k]] == pids[i] and cams[g[k]] == cams[i])
        ]
        hits = [r + 1 for r, j in enumerate(kept) if pids[j] == pids[i]]
        if not hits:
            continue
        aps.append(sum((n + 1) / r for n, r in enumerate(hits)) / len(hits))
        r1.append(1.0 if hits[0] == 1 else 0.0)
    return 100 * float(np.mean(aps)), 100 * float(np.mean(r1))


def _samples(seed, name, num=24, num_ids=4, dim=8):
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(num, dim)).astype(np.float32)
    # Same raw ids in both test sets: a query must not match the other set.
    pids = rng.integers(1, num_ids + 1, num)
    cams = rng.integers(0, 3, num)
    is_query = np.arange(num) % 3 == 0
    samples = []
    for f, p, c, q in zip(feats, pids, cams, is_query):
        s = ReIDDataSample()
        s.set_gt_label(int(p))
        s.set_field(int(c), 'cam_id', field_type='metainfo')
        s.set_field(bool(q), 'is_query', field_type='metainfo')
        s.set_field(name, 'test_set', field_type='metainfo')
        s.set_field(torch.from_numpy(f), 'pred_feature', field_type='data')
        samples.append(s)
    return samples, (feats, pids.tolist(), cams.tolist(), is_query.tolist())


def test_each_test_set_matches_its_own_reference():
    a, ref_a = _samples(0, 'alpha')
    b, ref_b = _samples(1, 'beta')
    # Interleaved, as several ranks' results may arrive.
    mixed = [s for pair in zip(a, b) for s in pair]
    metric = MultiTestSetMetric()
    for start in range(0, len(mixed), 5):
        metric.process(None, mixed[start:start + 5])
    out = metric.evaluate(len(mixed))
    for name, ref in (('alpha', ref_a), ('beta', ref_b)):
        mAP, r1 = _reference(*ref)
        assert out[f'{name}/mAP'] == pytest.approx(mAP, abs=1e-4)
        assert out[f'{name}/R1'] == pytest.approx(r1, abs=1e-4)
    assert list(out)[0] == 'alpha/mAP'
    assert {k.split('/')[0] for k in out} == {'alpha', 'beta'}


def test_order_and_completeness_follow_the_dataset_meta():
    a, _ = _samples(0, 'alpha')
    b, _ = _samples(1, 'beta')
    metric = MultiTestSetMetric(metric=dict(type='ReIDMetric', metric='mAP'))
    metric.dataset_meta = dict(test_sets=['beta', 'alpha'])
    metric.process(None, a + b)
    assert list(metric.evaluate(len(a) + len(b))) == ['beta/mAP', 'alpha/mAP']
    metric.dataset_meta = dict(test_sets=['alpha', 'gamma'])
    metric.process(None, a)
    with pytest.raises(ValueError, match=r"test sets \['gamma'\]"):
        metric.evaluate(len(a))


def test_per_test_set_metric_and_prefix_in_an_evaluator():
    a, ref_a = _samples(0, 'alpha')
    b, _ = _samples(1, 'beta')
    evaluator = Evaluator([
        dict(
            type='MultiTestSetMetric',
            test_set_metrics=dict(beta=dict(type='ReIDMetric', metric='mAP')),
            prefix='val')
    ])
    evaluator.process(a + b)
    out = evaluator.evaluate(len(a) + len(b))
    assert out['val/alpha/mAP'] == pytest.approx(_reference(*ref_a)[0])
    assert 'val/alpha/R1' in out and 'val/beta/mAP' in out
    assert not [k for k in out if k.startswith('val/beta/R')]


def test_untagged_sample_and_bad_config_are_errors():
    a, _ = _samples(0, 'alpha')
    plain = a[0].clone()
    del plain.test_set
    with pytest.raises(KeyError, match="under 'test_set'.*ReIDTestSets"):
        MultiTestSetMetric().process(None, [plain])
    with pytest.raises(TypeError, match='metric config dict'):
        MultiTestSetMetric(metric='ReIDMetric')
    with pytest.raises(ValueError, match='Unknown metric'):
        MultiTestSetMetric(metric=dict(type='ReIDMetric', metric='top1'))
