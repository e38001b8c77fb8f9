"""Inference throughput: what is timed and how the figures follow from it."""
import pytest
from torch import nn

from mmpha.apis import benchmark_inference, init_model


class _Counting(nn.Module):
    """A stand-in re-ID model whose inference passes are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Identity()  # no camera / view embeddings
        self.proj = nn.Linear(3, 4)
        self.calls = []

    def extract_feat(self, inputs):
        self.calls.append(inputs.shape[0])
        return self.proj(inputs.mean(dim=(2, 3)))


class _FakeTimer:
    """Reads 0, d1, d1 + gap, d1 + gap + d2, ...: pass i lasts ``d_i``."""

    def __init__(self, durations, gap=100.0):
        self.marks = []
        now = 0.0
        for duration in durations:
            self.marks += [now, now + duration]
            now += duration + gap

    def __call__(self):
        return self.marks.pop(0)


@pytest.mark.parametrize('batch_size', [1, 3, 8])
def test_images_per_s_is_batch_over_the_median_pass(batch_size):
    durations = [0.5, 0.1, 0.2, 0.4, 0.3]  # median 0.3 s
    model = _Counting()
    timer = _FakeTimer(durations)
    result = benchmark_inference(
        model, (4, 2), batch_size=batch_size, iters=5, warmup=2, timer=timer)
    assert result['images_per_s'] == pytest.approx(batch_size / 0.3)
    assert result['ms_per_batch'] == pytest.approx(300.0)
    assert result['batch_size'] == batch_size
    # Two untimed passes, then five timed ones, each of the whole batch; the
    # clock is read exactly twice per timed pass.
    assert model.calls == [batch_size] * 7
    assert timer.marks == []


def test_throughput_halves_when_passes_take_twice_as_long():
    fast, slow = (
        benchmark_inference(
            _Counting(), (4, 2),
            batch_size=4,
            iters=3,
            warmup=0,
            timer=_FakeTimer([duration] * 3)) for duration in (0.1, 0.2))
    assert fast['images_per_s'] == pytest.approx(40.0)
    assert slow['images_per_s'] == pytest.approx(fast['images_per_s'] / 2)


def test_benchmark_inference_on_a_real_model(tiny_files):
    model = init_model(tiny_files['transreid_cfg'],
                       tiny_files['transreid_ckpt'])
    result = benchmark_inference(
        model, (128, 64), batch_size=2, iters=2, warmup=1)
    assert result['images_per_s'] == pytest.approx(
        2 / (result['ms_per_batch'] / 1000))
    assert result['images_per_s'] > 0
    assert not model.training


@pytest.mark.parametrize('kwargs, message', [
    (dict(iters=0), 'iters must be a positive int, got 0'),
    (dict(batch_size=0), 'batch_size must be a positive int, got 0'),
    (dict(warmup=-1), 'warmup must be >= 0, got -1'),
])
def test_bad_counts_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        benchmark_inference(_Counting(), (4, 2), **kwargs)
