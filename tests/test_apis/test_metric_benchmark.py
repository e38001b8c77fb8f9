"""The metric benchmark: what is timed, and how the figures follow."""
import numpy as np
import pytest
import torch

from mmpha.apis import benchmark_metric, make_rank_data
from mmpha.evaluation import ReIDMetric


class _FakeTimer:
    """Reads 0, d1, d1 + 1, d1 + 1 + d2, ...: measurement i lasts ``d_i``."""

    def __init__(self, durations):
        self.marks = []
        now = 0.0
        for duration in durations:
            self.marks += [now, now + duration]
            now += duration + 1.0

    def __call__(self):
        return self.marks.pop(0)


def _metric_as_reference(calls):

    def reference(max_rank, **data):
        calls.append(max_rank)
        return ReIDMetric.calculate(
            **{
                k: torch.from_numpy(v)
                for k, v in data.items()
            },
            max_rank=max_rank)

    return reference


def test_rank_data_shapes_ties_and_close_positives():
    data = make_rank_data(7, 30, 5, 3, seed=1, decimals=1)
    assert data['distmat'].shape == (7, 30)
    assert data['q_pids'].shape == data['q_camids'].shape == (7, )
    assert data['g_pids'].shape == data['g_camids'].shape == (30, )
    assert set(np.unique(data['q_pids'])) <= set(range(5))
    # Rounded to one decimal: ties.
    assert len(np.unique(data['distmat'])) < data['distmat'].size
    same = data['q_pids'][:, None] == data['g_pids'][None]
    assert data['distmat'][same].max() <= 0.02 + 1e-6
    again = make_rank_data(7, 30, 5, 3, seed=1, decimals=1)
    assert all(np.array_equal(data[k], again[k]) for k in data)


def test_best_time_ratio_and_zero_diffs_from_a_fake_clock():
    data = make_rank_data(12, 60, 6, 3, seed=0)
    calls = []
    timer = _FakeTimer([2.0, 0.5, 0.25, 0.4])
    out = benchmark_metric(
        data, _metric_as_reference(calls), max_rank=10, repeat=3, timer=timer)
    assert out['ref_time'] == pytest.approx(2.0)
    assert out['time'] == pytest.approx(0.25)  # the best of three
    assert out['ratio'] == pytest.approx(8.0)
    assert calls == [10]  # the reference runs once
    assert timer.marks == []  # the clock is read twice per measurement
    assert out['diffs'] == dict(mAP=0.0, CMC=0.0, mINP=0.0)
    assert out['result']['CMC'].shape == (10, )
    assert 0.05 < out['expected']['mAP'] <= 1


@pytest.mark.parametrize('kwargs, message', [
    (dict(repeat=0), 'repeat must be a positive int, got 0'),
    (dict(max_rank=0), 'max_rank must be a positive int, got 0'),
])
def test_bad_counts_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark_metric(make_rank_data(2, 4, 2, 2), lambda **_: {}, **kwargs)
