import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler

from mmpha.evaluation.functional import fast_ranking
from mmpha.evaluation.metrics import ReIDMetric, re_ranking, reid_metric
from mmpha.registry import METRICS
from mmpha.structures import ReIDDataSample


def _naive(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """Plain-Python protocol: rank by (distance, gallery index), drop the
    same-id same-camera images, then walk the list."""
    aps, inps, cmcs = [], [], []
    for i in range(len(q_pids)):
        order = sorted(range(len(g_pids)), key=lambda j: (distmat[i][j], j))
        kept = [
            j for j in order
            if not (g_pids[j] == q_pids[i] and g_camids[j] == q_camids[i])
        ]
        hit_ranks = [
            r + 1 for r, j in enumerate(kept) if g_pids[j] == q_pids[i]
        ]
        if not hit_ranks:
            continue
        aps.append(
            sum((n + 1) / r for n, r in enumerate(hit_ranks)) / len(hit_ranks))
        inps.append(len(hit_ranks) / hit_ranks[-1])
        cmcs.append(
            [1.0 if hit_ranks[0] <= k + 1 else 0.0 for k in range(max_rank)])
    return np.mean(aps), np.mean(inps), np.mean(cmcs, axis=0), len(aps)


# Gallery of the hand-computed case: (pid, camera).
#   g0 (1, 0)  same id and camera as q0: removed for q0
#   g1 (0, 1)  distractor (id 0 is never a query)
#   g2 (1, 1)  positive of q0
#   g3 (2, 1)  positive of q1
#   g4 (1, 2)  positive of q0
#   g5 (3, 0)  only image of id 3, same camera as q2
HAND_G_PIDS = [1, 0, 1, 2, 1, 3]
HAND_G_CAMS = [0, 1, 1, 1, 2, 0]
HAND_Q_PIDS = [1, 2, 3]
HAND_Q_CAMS = [0, 0, 0]
HAND_DIST = [
    [0.1, 0.2, 0.3, 0.3, 0.5, 0.3],
    [0.4, 0.4, 0.4, 0.4, 0.0, 0.9],
    [0.5, 0.1, 0.2, 0.3, 0.4, 0.6],
]


def test_calculate_hand_computed():
    # q0: stable order g0 .1, g1 .2, g2 .3, g3 .3, g5 .3, g4 .5 (the three
    #     ties keep gallery order); g0 is removed, leaving
    #     g1 g2+ g3 g5 g4+: hits at ranks 2 and 5.
    #     AP = (1/2 + 2/5) / 2 = 0.45, INP = 2/5 = 0.4, first hit rank 2.
    # q1: order g4 .0, g0 g1 g2 g3 (tied at .4), g5 .9; nothing removed;
    #     the only positive g3 is at rank 5 (after the tied g0..g2).
    #     AP = 1/5 = 0.2, INP = 1/5 = 0.2, first hit rank 5.
    # q2: its only gallery image g5 shares its camera: skipped.
    # mAP = (0.45 + 0.2) / 2 = 0.325, mINP = (0.4 + 0.2) / 2 = 0.3,
    # CMC = [0, 1/2, 1/2, 1/2, 1, 1, ...], padded to max_rank = 8 > G = 6.
    out = ReIDMetric.calculate(
        np.array(HAND_DIST),
        np.array(HAND_Q_PIDS),
        np.array(HAND_G_PIDS),
        np.array(HAND_Q_CAMS),
        np.array(HAND_G_CAMS),
        max_rank=8)
    assert out['mAP'] == pytest.approx(0.325, abs=1e-12)
    assert out['mINP'] == pytest.approx(0.3, abs=1e-12)
    np.testing.assert_allclose(out['CMC'], [0, 0.5, 0.5, 0.5, 1, 1, 1, 1])
    assert out['CMC'].shape == (8, )
    assert out['num_valid_queries'] == 2
    assert out['num_queries'] == 3
    assert isinstance(out['mAP'], float) and isinstance(out['mINP'], float)


def test_calculate_max_rank_shorter_than_gallery():
    out = ReIDMetric.calculate(
        HAND_DIST,
        HAND_Q_PIDS,
        HAND_G_PIDS,
        HAND_Q_CAMS,
        HAND_G_CAMS,
        max_rank=3)
    np.testing.assert_allclose(out['CMC'], [0, 0.5, 0.5])
    assert out['mAP'] == pytest.approx(0.325)


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('ties', [False, True])
def test_calculate_matches_naive(seed, ties):
    rng = np.random.default_rng(seed)
    num_q, num_g = 25, 70
    q_pids = rng.integers(0, 8, num_q)
    g_pids = rng.integers(0, 8, num_g)
    q_cams = rng.integers(0, 3, num_q)
    g_cams = rng.integers(0, 3, num_g)
    if ties:
        dist = rng.integers(0, 6, (num_q, num_g)).astype(np.float32)
    else:
        dist = rng.random((num_q, num_g)).astype(np.float32)
    mAP, mINP, cmc, num_valid = _naive(dist, q_pids, g_pids, q_cams, g_cams,
                                       20)
    out = ReIDMetric.calculate(dist, q_pids, g_pids, q_cams, g_cams, 20)
    assert out['mAP'] == pytest.approx(mAP, abs=1e-12)
    assert out['mINP'] == pytest.approx(mINP, abs=1e-12)
    np.testing.assert_allclose(out['CMC'], cmc, atol=1e-12)
    assert out['num_valid_queries'] == num_valid


def test_calculate_constant_distances_and_small_chunks(monkeypatch):
    rng = np.random.default_rng(11)
    q_pids, g_pids = rng.integers(0, 4, 9), rng.integers(0, 4, 30)
    q_cams, g_cams = rng.integers(0, 2, 9), rng.integers(0, 2, 30)
    expected = _naive(np.ones((9, 30)), q_pids, g_pids, q_cams, g_cams, 10)
    # Every distance equal: the ranking is the gallery order.
    out = ReIDMetric.calculate(
        np.ones((9, 30)), q_pids, g_pids, q_cams, g_cams, max_rank=10)
    assert out['mAP'] == pytest.approx(expected[0])
    np.testing.assert_allclose(out['CMC'], expected[2])
    # Tiny chunks of rows and of compared pairs give the same numbers.
    dist = rng.integers(0, 3, (9, 30)).astype(np.float64)
    whole = ReIDMetric.calculate(dist, q_pids, g_pids, q_cams, g_cams, 10)
    monkeypatch.setattr(fast_ranking, '_CHUNK_ELEMENTS', 7)
    chunked = ReIDMetric.calculate(dist, q_pids, g_pids, q_cams, g_cams, 10)
    # Only the order of the float sums differs.
    assert chunked['mAP'] == pytest.approx(whole['mAP'], abs=1e-14)
    assert chunked['mINP'] == pytest.approx(whole['mINP'], abs=1e-14)
    np.testing.assert_array_equal(chunked['CMC'], whole['CMC'])
    assert chunked['mAP'] == pytest.approx(
        _naive(dist, q_pids, g_pids, q_cams, g_cams, 10)[0], abs=1e-14)


def test_calculate_numpy_torch_and_list_inputs_agree():
    rng = np.random.default_rng(3)
    dist = rng.random((6, 15))
    args = [rng.integers(0, 3, 6), rng.integers(0, 3, 15)]
    cams = [rng.integers(0, 2, 6), rng.integers(0, 2, 15)]
    as_numpy = ReIDMetric.calculate(dist, args[0], args[1], cams[0], cams[1],
                                    10)
    as_torch = ReIDMetric.calculate(
        torch.from_numpy(dist), torch.from_numpy(args[0]),
        torch.from_numpy(args[1]),
        torch.from_numpy(cams[0]).int(), torch.from_numpy(cams[1]), 10)
    as_list = ReIDMetric.calculate(dist.tolist(), args[0].tolist(),
                                   args[1].tolist(), cams[0].tolist(),
                                   cams[1].tolist(), 10)
    for out in (as_torch, as_list):
        assert out['mAP'] == as_numpy['mAP']
        assert out['mINP'] == as_numpy['mINP']
        np.testing.assert_array_equal(out['CMC'], as_numpy['CMC'])


def test_calculate_no_valid_query_raises():
    # The gallery holds each query id only under the query's camera.
    with pytest.raises(ValueError, match='None of the 2 queries has a valid'):
        ReIDMetric.calculate(
            np.random.rand(2, 3), [1, 2], [1, 2, 5], [0, 1], [0, 1, 0])


@pytest.mark.parametrize('args,error,match', [
    (dict(distmat=np.zeros(3)), ValueError, r'\(Q, G\) matrix, got shape'),
    (dict(q_pids=[1, 2]), ValueError, r'q_pids must have shape \(3,\)'),
    (dict(g_camids=[0]), ValueError, r'g_camids must have shape \(4,\)'),
    (dict(g_pids=np.ones(4)), TypeError, 'g_pids must hold integers'),
    (dict(max_rank=0), ValueError, 'max_rank must be a positive int, got 0'),
    (dict(distmat=np.full((3, 4), np.nan)), ValueError, 'must be finite'),
])
def test_calculate_invalid_inputs(args, error, match):
    kwargs = dict(
        distmat=np.zeros((3, 4)),
        q_pids=[1, 2, 3],
        g_pids=[1, 2, 3, 4],
        q_camids=[0, 0, 0],
        g_camids=[1, 1, 1, 1])
    kwargs.update(args)
    with pytest.raises(error, match=match):
        ReIDMetric.calculate(**kwargs)


def _sample(feature, pid, cam, is_query, as_element=False):
    if as_element:
        sample = ReIDDataSample(metainfo=dict(img_path='x.jpg'))
        sample.set_gt_label(pid).set_cam_id(cam)
        sample.set_view_id(0).set_is_query(is_query)
        sample.set_pred_feature(torch.tensor(feature, dtype=torch.float32))
        return sample.to_dict()
    return dict(
        pred_feature=torch.tensor(feature, dtype=torch.float32),
        gt_label=torch.tensor([pid]),
        cam_id=cam,
        is_query=is_query)


def _hand_samples():
    # Query q (id 1, camera 0) at x = 0; gallery at x = 1..5:
    #   x=1 (1, 0) same camera: removed; x=2 (0, 1) distractor;
    #   x=3 (1, 1) positive; x=4 (2, 1) other id; x=5 (1, 2) positive.
    # Kept ranking: distractor, positive (rank 2), other, positive (rank 4).
    # AP = (1/2 + 2/4) / 2 = 0.5; INP = 2/4 = 0.5; first hit at rank 2.
    # The second query (id 7) has no gallery image: skipped.
    return [
        _sample([1.], 1, 0, False),
        _sample([0.], 1, 0, True, as_element=True),
        _sample([2.], 0, 1, False),
        _sample([3.], 1, 1, False, as_element=True),
        _sample([9.], 7, 0, True),
        _sample([4.], 2, 1, False),
        _sample([5.], 1, 2, False),
    ]


def test_metric_end_to_end_with_hand_features():
    metric = ReIDMetric(norm_feat=False)
    samples = _hand_samples()
    metric.process(None, samples[:3])
    metric.process(None, samples[3:])
    with mock.patch.object(reid_metric, 'print_log') as log:
        results = metric.evaluate(len(samples))
    assert results == pytest.approx(
        dict(mAP=50.0, mINP=50.0, R1=0.0, R5=100.0, R10=100.0, R20=100.0))
    message = log.call_args[0][0]
    assert '2 queries, 5 gallery images' in message
    assert '1 queries have no valid gallery match' in message
    assert metric.results == []  # cleared by evaluate


def test_metric_selected_metrics_prefix_and_chunks():
    samples = _hand_samples()
    metric = ReIDMetric(
        metric='mAP', norm_feat=False, chunk_size=1, prefix='test')
    metric.process(None, samples)
    assert metric.evaluate(len(samples)) == pytest.approx({'test/mAP': 50.0})
    metric = ReIDMetric(metric=['CMC'], ranks=(2, ), norm_feat=False)
    metric.process(None, samples)
    assert metric.evaluate(len(samples)) == pytest.approx({'R2': 100.0})


def test_metric_matches_calculate_on_random_features():
    rng = np.random.default_rng(0)
    feats = torch.from_numpy(rng.normal(size=(40, 8))).float()
    pids = rng.integers(0, 6, 40)
    cams = rng.integers(0, 3, 40)
    is_query = np.arange(40) % 4 == 0
    metric = ReIDMetric(dist_metric='euclidean', chunk_size=3)
    metric.process(None, [
        dict(pred_feature=f, gt_label=int(p), cam_id=int(c), is_query=bool(q))
        for f, p, c, q in zip(feats, pids, cams, is_query)
    ])
    results = metric.compute_metrics(metric.results)
    unit = torch.nn.functional.normalize(feats, dim=1)
    dist = torch.cdist(unit[is_query], unit[~is_query])
    expected = ReIDMetric.calculate(dist, pids[is_query], pids[~is_query],
                                    cams[is_query], cams[~is_query])
    assert results['mAP'] == pytest.approx(expected['mAP'] * 100, abs=1e-9)
    assert results['mINP'] == pytest.approx(expected['mINP'] * 100, abs=1e-9)
    assert results['R5'] == pytest.approx(expected['CMC'][4] * 100)


def test_cosine_and_euclidean_rank_differently_without_normalisation():
    # Query (1, 0). Positive A = (10, 1) points the same way but is far;
    # negative B = (0.5, 0.5) is near but at 45 degrees.
    samples = [
        _sample([1., 0.], 1, 0, True),
        _sample([10., 1.], 1, 1, False),
        _sample([.5, .5], 2, 1, False),
    ]
    results = {}
    for dist_metric, norm_feat in [('euclidean', False), ('cosine', False),
                                   ('euclidean', True)]:
        metric = ReIDMetric(
            dist_metric=dist_metric, norm_feat=norm_feat, ranks=(1, ))
        metric.process(None, samples)
        results[(dist_metric, norm_feat)] = metric.evaluate(3)['R1']
    # Euclidean: B (0.71) before A (9.06). Cosine: A (0.005) before B
    # (0.29). On unit vectors the Euclidean order is the cosine order.
    assert results == {
        ('euclidean', False): 0.0,
        ('cosine', False): 100.0,
        ('euclidean', True): 100.0
    }


def test_metric_with_re_ranking_uses_re_ranked_distances():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(5, 6))
    pids = rng.integers(0, 5, 45)
    feats = torch.from_numpy(centres[pids] +
                             0.8 * rng.normal(size=(45, 6))).float()
    cams = rng.integers(0, 3, 45)
    is_query = np.arange(45) < 9
    samples = [
        dict(pred_feature=f, gt_label=int(p), cam_id=int(c), is_query=bool(q))
        for f, p, c, q in zip(feats, pids, cams, is_query)
    ]
    metric = ReIDMetric(rerank=True, k1=5, k2=3, lambda_value=0.2)
    metric.process(None, samples)
    results = metric.evaluate(len(samples))
    unit = torch.nn.functional.normalize(feats, dim=1)
    dist = re_ranking(
        unit[is_query], unit[~is_query], k1=5, k2=3, lambda_value=0.2)
    expected = ReIDMetric.calculate(dist, pids[is_query], pids[~is_query],
                                    cams[is_query], cams[~is_query])
    assert results['mAP'] == pytest.approx(expected['mAP'] * 100)
    plain = ReIDMetric()
    plain.process(None, samples)
    assert plain.evaluate(len(samples))['mAP'] != pytest.approx(results['mAP'])


def test_metric_errors():
    metric = ReIDMetric()
    with pytest.raises(KeyError, match=r"\['cam_id'\] missing"):
        metric.process(
            None,
            [dict(pred_feature=torch.ones(2), gt_label=1, is_query=True)])
    with pytest.raises(ValueError, match=r'gt_label must hold exactly one'):
        metric.process(None, [
            dict(
                pred_feature=torch.ones(2),
                gt_label=torch.tensor([1, 2]),
                cam_id=0,
                is_query=True)
        ])
    with pytest.raises(ValueError, match=r'pred_feature must have shape'):
        metric.process(None, [
            dict(
                pred_feature=torch.ones(1, 2),
                gt_label=1,
                cam_id=0,
                is_query=True)
        ])
    metric.process(None, [_sample([1.], 1, 0, True)])
    with pytest.raises(ValueError, match='got 1 queries and 0 gallery'):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match='None of the 1 queries'):
        metric.compute_metrics(metric.results +
                               [metric.results[0] | dict(is_query=False)])


@pytest.mark.parametrize('kwargs,match', [
    (dict(metric='rank1'), "Unknown metric 'rank1'"),
    (dict(metric=[]), 'at least one of'),
    (dict(ranks=(1, 60)), r'in \[1, max_rank=50\], got 60'),
    (dict(ranks=(0, )), 'got 0'),
    (dict(dist_metric='l2'), "'euclidean' or 'cosine', got 'l2'"),
    (dict(max_rank=0), 'max_rank must be a positive int, got 0'),
    (dict(chunk_size=0), 'chunk_size must be a positive int, got 0'),
    (dict(k1=0), 'k1 must be a positive int, got 0'),
    (dict(lambda_value=-0.1), r'lambda_value must be a number in \[0, 1\]'),
])
def test_metric_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReIDMetric(**kwargs)


def test_metric_is_registered():
    metric = METRICS.build(dict(type='ReIDMetric', ranks=(1, 5)))
    assert isinstance(metric, ReIDMetric)
    assert metric.ranks == (1, 5)


def _rank_results(samples, world_size, collect_device):
    """What each rank's metric holds after a test loop over ``samples``
    with ``DefaultSampler(shuffle=False)`` and batch size 2."""
    per_rank = []
    for rank in range(world_size):
        with mock.patch(
                'mmengine.dataset.sampler.get_dist_info',
                return_value=(rank, world_size)):
            sampler = DefaultSampler(samples, shuffle=False, seed=0)
        indices = list(sampler)
        metric = ReIDMetric(collect_device=collect_device)
        for start in range(0, len(indices), 2):
            metric.process(None,
                           [samples[i] for i in indices[start:start + 2]])
        per_rank.append(metric)
    return per_rank


@pytest.mark.parametrize('collect_device', ['cpu', 'gpu'])
def test_results_gathered_from_two_ranks_in_dataset_order(
        collect_device, tmp_path):
    rng = np.random.default_rng(2)
    # 3 queries then 6 gallery images, as the ConcatDataset yields them; 9
    # samples on 2 ranks make DefaultSampler repeat sample 0 as padding.
    pids = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    cams = [0, 0, 0, 1, 1, 1, 2, 0, 2]
    feats = rng.normal(size=(9, 4))
    samples = [
        _sample(f.tolist(), p, c, i < 3)
        for i, (f, p, c) in enumerate(zip(feats, pids, cams))
    ]
    single = ReIDMetric()
    single.process(None, samples)
    expected = single.compute_metrics(single.results)

    rank0, rank1 = _rank_results(samples, 2, collect_device)
    assert len(rank0.results) == len(rank1.results) == 5  # one padded
    seen = []
    compute = ReIDMetric.compute_metrics

    def spy(self, results):
        seen.extend(results)
        return compute(self, results)

    patches = [
        mock.patch('mmengine.dist.dist.get_dist_info', return_value=(0, 2)),
        mock.patch.object(ReIDMetric, 'compute_metrics', spy),
    ]
    if collect_device == 'gpu':
        patches.append(
            mock.patch(
                'mmengine.dist.dist.all_gather_object',
                return_value=[rank0.results, rank1.results]))
    else:
        # Rank 1 has written its part into the shared directory.
        with open(tmp_path / 'part_1.pkl', 'wb') as f:
            pickle.dump(rank1.results, f)
        rank0.collect_dir = str(tmp_path)
        patches.append(mock.patch('mmengine.dist.dist.barrier'))
    with patches[0], patches[1], patches[2]:
        gathered = rank0.evaluate(len(samples))

    assert gathered == pytest.approx(expected)
    assert [(r['pid'], r['camid'], r['is_query']) for r in seen
            ] == [(p, c, i < 3) for i, (p, c) in enumerate(zip(pids, cams))]
    # Keeping the padded duplicate of query 0 would change the numbers.
    duplicated = single.compute_metrics(single.results + single.results[:1])
    assert duplicated['mAP'] != pytest.approx(expected['mAP'])


def test_evaluator_feeds_reid_data_samples():
    # What the test loop does: the model returns ReIDDataSample objects and
    # MMEngine's Evaluator hands them to the metric as dicts.
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(dict(type='ReIDMetric', norm_feat=False))
    samples = []
    for sample in _hand_samples():
        element = ReIDDataSample(metainfo=dict(img_path='x.jpg'))
        element.set_gt_label(sample['gt_label']).set_cam_id(sample['cam_id'])
        element.set_view_id(0).set_is_query(sample['is_query'])
        samples.append(element.set_pred_feature(sample['pred_feature']))
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    assert evaluator.evaluate(len(samples)) == pytest.approx(
        dict(mAP=50.0, mINP=50.0, R1=0.0, R5=100.0, R10=100.0, R20=100.0))
