"""AQE, the verification ROC and the per-camera breakdown against plain
NumPy references written here, on random data with ties."""
import numpy as np
import pytest
import torch

from mmpha.evaluation import ReIDMetric
from mmpha.evaluation.functional import (ROCAccumulator,
                                         average_query_expansion, evaluate,
                                         evaluate_extras)
from mmpha.evaluation.functional.roc import max_false_accepts
from mmpha.utils import pairwise_distance


def _data(seed, num_q=30, num_g=80, num_ids=8, num_cams=3, dim=4):
    """Features on a coarse grid (many equal distances), ids, cameras."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-2, 3, size=(num_q, dim)).astype(np.float32)
    g = rng.integers(-2, 3, size=(num_g, dim)).astype(np.float32)
    q[q.sum(1) == 0, 0] = 1  # no zero vector
    g[np.abs(g).sum(1) == 0, 0] = 1
    return dict(
        q=q,
        g=g,
        q_pids=rng.integers(0, num_ids, num_q),
        g_pids=rng.integers(0, num_ids, num_g),
        q_camids=rng.integers(0, num_cams, num_q),
        g_camids=rng.integers(0, num_cams, num_g))


# ----------------------------------------------------------------- ROC


def _roc_reference(dist, q_pids, g_pids, q_camids, g_camids, fprs):
    """Brute force over every distinct threshold."""
    score = -dist.astype(np.float64)
    same_id = q_pids[:, None] == g_pids[None]
    same_cam = q_camids[:, None] == g_camids[None]
    pos = score[same_id & ~same_cam]
    neg = score[~same_id]
    thresholds = np.append(np.unique(np.concatenate([pos, neg])), np.inf)
    out = {}
    for f in fprs:
        best = 0.0
        for t in thresholds:
            if (neg >= t).sum() / neg.size <= f:
                best = max(best, (pos >= t).sum() / pos.size)
        out[f] = best
    return out


@pytest.mark.parametrize('seed', range(4))
def test_roc_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    num_q, num_g = 25, 60
    # Few distance levels: many ties, between positives and negatives too.
    dist = rng.integers(0, 6, size=(num_q, num_g)).astype(np.float32)
    q_pids, g_pids = rng.integers(0, 5, num_q), rng.integers(0, 5, num_g)
    q_cams, g_cams = rng.integers(0, 2, num_q), rng.integers(0, 2, num_g)
    fprs = (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.9, 1.0)
    ref = _roc_reference(dist, q_pids, g_pids, q_cams, g_cams, fprs)
    t = torch.as_tensor
    acc = ROCAccumulator(t(q_pids), t(g_pids), t(g_cams), fprs)
    # Uneven chunks of queries.
    for lo, hi in ((0, 3), (3, 4), (4, 17), (17, num_q)):
        acc.update(t(dist[lo:hi]), t(q_pids[lo:hi]), t(q_cams[lo:hi]))
    out = acc.result()
    assert out == pytest.approx(ref, abs=1e-12)
    assert out[1.0] == 1.0


def test_roc_never_splits_a_tie():
    # One query (id 0, camera 0); negatives at distances 0, 1, 1, 2 and
    # positives at 0.5, 1 and 3. A threshold takes both negatives at
    # distance 1 or neither, and the positive tied with them goes with
    # them: up to FPR 0.75 (three negatives accepted) only the positive at
    # 0.5 is reached, even at FPR 0.5, where a threshold splitting the tie
    # would also count the positive at distance 1.
    t = torch.tensor
    dist = t([[0., 1., 1., 2., 0.5, 1., 3.]])
    g_pids = t([1, 2, 3, 4, 0, 0, 0])
    fprs = (0.2, 0.25, 0.5, 0.75)
    acc = ROCAccumulator(t([0]), g_pids, t([1] * 7), fprs=fprs)
    acc.update(dist, t([0]), t([0]))
    assert acc.result() == pytest.approx(
        dict(zip(fprs, (0.0, 1 / 3, 1 / 3, 2 / 3))))


def test_roc_continuous_scores_and_counting():
    rng = np.random.default_rng(9)
    dist = rng.random((40, 90))
    q_pids, g_pids = rng.integers(0, 6, 40), rng.integers(0, 6, 90)
    q_cams, g_cams = rng.integers(0, 3, 40), rng.integers(0, 3, 90)
    fprs = (0.001, 0.02, 0.3)
    t = torch.as_tensor
    acc = ROCAccumulator(t(q_pids), t(g_pids), t(g_cams), fprs)
    acc.update(t(dist), t(q_pids), t(q_cams))
    assert acc.num_negatives == int((q_pids[:, None] != g_pids[None]).sum())
    assert acc.result() == pytest.approx(
        _roc_reference(dist, q_pids, g_pids, q_cams, g_cams, fprs), abs=1e-12)


def test_max_false_accepts_is_exact():
    for n in (1, 7, 100, 1000, 12345):
        for f in (1e-4, 1e-3, 0.01, 0.07, 0.29, 0.5, 1.0):
            m = max_false_accepts(f, n)
            assert m / n <= f and (m == n or (m + 1) / n > f)


def test_roc_bad_input():
    t = torch.tensor
    with pytest.raises(ValueError, match='roc_fprs'):
        ROCAccumulator(t([0]), t([0]), t([0]), fprs=(0.0, ))
    acc = ROCAccumulator(t([0]), t([1, 2]), t([0, 1]))
    acc.update(t([[0.1, 0.2]]), t([0]), t([0]))
    with pytest.raises(ValueError, match='positive pairs'):
        acc.result()


# ----------------------------------------------------------------- AQE


def _aqe_reference(q, g, k, alpha):
    feats = np.concatenate([q, g]).astype(np.float64)
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sims = unit @ unit.T
    out = []
    for row in sims:
        # Descending similarity; among equal similarities any choice gives
        # the same sum here (see the data: ties are exact duplicates).
        idx = np.argsort(-row, kind='stable')[:k]
        w = row[idx]**alpha
        out.append((w[:, None] * feats[idx]).sum(0))
    out = np.stack(out)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out[:len(q)], out[len(q):]


@pytest.mark.parametrize('k,alpha', [(1, 3.0), (5, 3.0), (3, 0.0), (4, 2.5)])
def test_aqe_matches_reference(k, alpha):
    rng = np.random.default_rng(k)
    q = rng.normal(size=(12, 6)).astype(np.float32)
    g = rng.normal(size=(30, 6)).astype(np.float32)
    g[5] = g[4]  # exact duplicates: tied neighbours with equal features
    g[9] = q[2]
    # Keep the neighbour similarities positive, so that alpha = 2.5 is
    # defined (it is for fast-reid too).
    q += 2.0
    g += 2.0
    ref_q, ref_g = _aqe_reference(q, g, k, alpha)
    out_q, out_g = average_query_expansion(
        torch.from_numpy(q),
        torch.from_numpy(g),
        k=k,
        alpha=alpha,
        chunk_size=7)
    np.testing.assert_allclose(out_q.numpy(), ref_q, atol=1e-5)
    np.testing.assert_allclose(out_g.numpy(), ref_g, atol=1e-5)
    if k == 1:
        # Only itself: the normalised feature.
        np.testing.assert_allclose(
            out_q.numpy(),
            q / np.linalg.norm(q, axis=1, keepdims=True),
            atol=1e-6)


def test_aqe_bad_arguments():
    x = torch.ones(2, 3)
    with pytest.raises(ValueError, match='aqe_k'):
        average_query_expansion(x, x, k=5)
    with pytest.raises(ValueError, match='aqe_alpha'):
        average_query_expansion(x, x, k=2, alpha=-1)
    with pytest.raises(ValueError, match='widths'):
        average_query_expansion(x, torch.ones(2, 4), k=2)


# ------------------------------------------------------ per-camera


def _ap_r1_reference(dist, q_pids, g_pids, q_camids, g_camids):
    """Mean AP and R1 of the standard protocol, one query at a time."""
    aps, r1 = [], []
    for i in range(dist.shape[0]):
        order = np.argsort(dist[i], kind='stable')
        keep = ~((g_pids[order] == q_pids[i]) &
                 (g_camids[order] == q_camids[i]))
        match = (g_pids[order] == q_pids[i])[keep]
        if not match.any():
            continue
        hits = np.cumsum(match)
        ranks = np.nonzero(match)[0] + 1
        aps.append(np.mean(hits[match] / ranks))
        r1.append(float(match[0]))
    return (np.mean(aps), np.mean(r1)) if aps else None


@pytest.mark.parametrize('mode', ['query', 'pair'])
def test_per_camera_matches_reference(mode):
    d = _data(3)
    q, g = torch.from_numpy(d['q']), torch.from_numpy(d['g'])
    qn = torch.nn.functional.normalize(q, dim=1)
    gn = torch.nn.functional.normalize(g, dim=1)
    dist = pairwise_distance(qn, gn).numpy()
    out = evaluate_extras(
        q,
        g,
        d['q_pids'],
        d['g_pids'],
        d['q_camids'],
        d['g_camids'],
        per_camera=mode,
        chunk_size=7)['per_camera']
    expected = {}
    for cq in np.unique(d['q_camids']):
        rows = d['q_camids'] == cq
        gcams = [None] if mode == 'query' else [
            c for c in np.unique(d['g_camids']) if c != cq
        ]
        for cg in gcams:
            cols = (
                np.ones(len(d['g_pids']), bool)
                if cg is None else d['g_camids'] == cg)
            ref = _ap_r1_reference(dist[rows][:, cols], d['q_pids'][rows],
                                   d['g_pids'][cols], d['q_camids'][rows],
                                   d['g_camids'][cols])
            if ref is not None:
                key = int(cq) if cg is None else (int(cq), int(cg))
                expected[key] = ref
    assert sorted(out) == sorted(expected)
    for key, (ap, r1) in expected.items():
        assert out[key]['mAP'] == pytest.approx(ap, abs=1e-9), key
        assert out[key]['CMC'][0] == pytest.approx(r1, abs=1e-12), key


# ------------------------------------------------- ReIDMetric options


def _metric_results(d, q, g):
    results = []
    for feats, pids, cams, is_q in ((q, d['q_pids'], d['q_camids'], True),
                                    (g, d['g_pids'], d['g_camids'], False)):
        for f, p, c in zip(feats, pids, cams):
            results.append(
                dict(
                    feature=torch.as_tensor(f),
                    pid=int(p),
                    camid=int(c),
                    is_query=is_q))
    return results


def test_reid_metric_options():
    d = _data(5)
    results = _metric_results(d, d['q'], d['g'])
    plain = ReIDMetric().compute_metrics(results)
    # Off by default: no extra keys.
    assert sorted(plain) == ['R1', 'R10', 'R20', 'R5', 'mAP', 'mINP']

    out = ReIDMetric(
        roc=True, per_camera='query',
        roc_fprs=(0.01, 0.1)).compute_metrics(results)
    for key in plain:
        assert out[key] == pytest.approx(plain[key])
    qn = torch.nn.functional.normalize(torch.from_numpy(d['q']), dim=1)
    gn = torch.nn.functional.normalize(torch.from_numpy(d['g']), dim=1)
    dist = pairwise_distance(qn, gn).numpy()
    roc = _roc_reference(dist, d['q_pids'], d['g_pids'], d['q_camids'],
                         d['g_camids'], (0.01, 0.1))
    assert out['TPR@FPR=1e-02'] == pytest.approx(roc[0.01] * 100)
    assert out['TPR@FPR=1e-01'] == pytest.approx(roc[0.1] * 100)
    for cam in np.unique(d['q_camids']):
        rows = d['q_camids'] == cam
        ap, r1 = _ap_r1_reference(dist[rows], d['q_pids'][rows], d['g_pids'],
                                  d['q_camids'][rows], d['g_camids'])
        assert out[f'mAP_cam{cam}'] == pytest.approx(ap * 100)
        assert out[f'R1_cam{cam}'] == pytest.approx(r1 * 100)
        assert f'R5_cam{cam}' in out

    # AQE: the metric equals the protocol on the reference-expanded
    # features (continuous features: no tied neighbours).
    rng = np.random.default_rng(0)
    q = rng.normal(size=d['q'].shape).astype(np.float32) + 1.0
    g = rng.normal(size=d['g'].shape).astype(np.float32) + 1.0
    out = ReIDMetric(aqe=True).compute_metrics(_metric_results(d, q, g))
    ref_q, ref_g = _aqe_reference(q / np.linalg.norm(q, axis=1)[:, None],
                                  g / np.linalg.norm(g, axis=1)[:, None], 5,
                                  3.0)
    ref = evaluate(
        torch.from_numpy(ref_q).float(),
        torch.from_numpy(ref_g).float(), d['q_pids'], d['g_pids'],
        d['q_camids'], d['g_camids'])
    assert out['mAP'] == pytest.approx(ref['mAP'] * 100, abs=1e-3)
    assert out['R1'] == pytest.approx(ref['CMC'][0] * 100, abs=1e-3)


def test_reid_metric_bad_options():
    with pytest.raises(ValueError, match='per_camera'):
        ReIDMetric(per_camera='gallery')
    with pytest.raises(ValueError, match='roc_fprs'):
        ReIDMetric(roc_fprs=(2.0, ))
    with pytest.raises(ValueError, match='aqe_k'):
        ReIDMetric(aqe_k=0)
