"""VehicleIDMetric: the protocol's numbers in percent, mean and std."""
import numpy as np
import pytest
import torch

from mmpha.evaluation import VehicleIDMetric
from mmpha.evaluation.functional import evaluate_vehicleid
from mmpha.registry import METRICS
from mmpha.structures import ReIDDataSample


def _samples(num=30, num_ids=6, dim=4):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(num, dim, generator=gen)
    pids = [i % num_ids + 100 for i in range(num)]
    samples = []
    for feat, pid in zip(feats, pids):
        sample = ReIDDataSample().set_gt_label(pid).set_cam_id(0)
        sample.set_field(feat, 'pred_feature')
        samples.append(sample)
    return feats, pids, samples


def test_metrics_are_the_protocol_in_percent():
    feats, pids, samples = _samples()
    metric = METRICS.build(
        dict(type='VehicleIDMetric', trials=4, seed=2, ranks=(1, 5)))
    metric.process(None, samples[:10])
    metric.process(None, samples[10:])
    out = metric.compute_metrics(metric.results)
    assert set(out) == {'mAP', 'mAP_std', 'R1', 'R1_std', 'R5', 'R5_std'}
    ref = evaluate_vehicleid(
        torch.nn.functional.normalize(feats, dim=1), pids, trials=4, seed=2)
    assert out['mAP'] == pytest.approx(ref['mAP'] * 100)
    assert out['mAP_std'] == pytest.approx(ref['mAP_std'] * 100)
    assert out['R1'] == pytest.approx(ref['CMC'][0] * 100)
    assert out['R5_std'] == pytest.approx(ref['CMC_std'][4] * 100)
    # The std is over the trials' own values.
    per_trial = [t['CMC'][0] * 100 for t in ref['trials']]
    assert out['R1_std'] == pytest.approx(np.std(per_trial))
    assert out['R1_std'] > 0


def test_minp_option_and_argument_checks():
    _, _, samples = _samples()
    metric = VehicleIDMetric(trials=2, with_minp=True, ranks=1)
    metric.process(None, [s.to_dict() for s in samples])
    assert set(metric.compute_metrics(metric.results)) == {
        'mAP', 'mAP_std', 'mINP', 'mINP_std', 'R1', 'R1_std'
    }
    with pytest.raises(ValueError, match='trials'):
        VehicleIDMetric(trials=0)
    with pytest.raises(
            ValueError, match=r'ranks must be ints in \[1, '
            r'max_rank=50\]'):
        VehicleIDMetric(ranks=(0, ))
    with pytest.raises(KeyError, match='pred_feature'):
        VehicleIDMetric().process(None, [dict(gt_label=1)])
