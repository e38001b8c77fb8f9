"""ReIDDataPreprocessor: stacking, BGR->RGB, normalisation, unit range."""
import pytest
import torch

from mmpha.models.data_preprocessors import ReIDDataPreprocessor
from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample


def _batch(n=2, h=4, w=3):
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=gen)
        for _ in range(n)
    ]
    samples = [
        ReIDDataSample().set_gt_label(i).set_cam_id(0) for i in range(n)
    ]
    return dict(inputs=inputs, data_samples=samples)


def test_forward_normalises_rgb():
    pre = MODELS.build(
        dict(
            type='ReIDDataPreprocessor',
            mean=[127.5] * 3,
            std=[127.5] * 3,
            to_rgb=True))
    data = _batch()
    out = pre(data, training=True)
    x = out['inputs']
    assert x.shape == (2, 3, 4, 3) and x.dtype == torch.float32
    bgr = torch.stack(data['inputs']).float()
    expected = (bgr[:, [2, 1, 0]] - 127.5) / 127.5
    torch.testing.assert_close(x, expected)
    assert x.min() >= -1 and x.max() <= 1
    assert [s.gt_label.item() for s in out['data_samples']] == [0, 1]


def test_per_channel_stats_and_no_conversion():
    pre = ReIDDataPreprocessor(
        mean=[10., 20., 30.], std=[1., 2., 4.], to_rgb=False)
    data = _batch(1)
    x = pre(data)['inputs']
    raw = data['inputs'][0].float()
    torch.testing.assert_close(x[0, 2], (raw[2] - 30.) / 4.)


def test_unit_range_round_trip():
    pre = ReIDDataPreprocessor()
    data = _batch()
    x = pre(data)['inputs']
    unit = pre.to_unit_range(x)
    rgb = torch.stack(data['inputs'])[:, [2, 1, 0]].float() / 255.
    torch.testing.assert_close(unit, rgb)
    assert unit.min() >= 0 and unit.max() <= 1
    torch.testing.assert_close(pre.from_unit_range(unit), x)
    y = torch.rand(2, 3, 5, 4)
    torch.testing.assert_close(pre.to_unit_range(pre.from_unit_range(y)), y)


def test_no_normalisation():
    pre = ReIDDataPreprocessor(mean=None, std=None)
    data = _batch(1)
    x = pre(data)['inputs']
    torch.testing.assert_close(x[0], data['inputs'][0][[2, 1, 0]].float())
    torch.testing.assert_close(pre.to_unit_range(x), x / 255.)
    torch.testing.assert_close(pre.from_unit_range(x / 255.), x)


def test_stacked_input():
    pre = ReIDDataPreprocessor()
    data = _batch()
    stacked = dict(inputs=torch.stack(data['inputs']), data_samples=None)
    torch.testing.assert_close(pre(stacked)['inputs'], pre(data)['inputs'])


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(mean=[1., 2.]), ValueError, 'mean must have 1 or 3 numbers'),
    (dict(std=[0., 1., 1.]), ValueError, 'std must be positive'),
    (dict(mean=None), ValueError, 'both be set or both be None'),
    (dict(std='abc'), TypeError, 'std must be a sequence'),
    (dict(to_rgb=1), TypeError, 'to_rgb must be a bool'),
    (dict(pad_size_divisor=0), ValueError, 'pad_size_divisor'),
])
def test_invalid_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        ReIDDataPreprocessor(**kwargs)


def test_invalid_inputs():
    pre = ReIDDataPreprocessor()
    with pytest.raises(
            ValueError,
            match=r'\(B, C, H, W\) tensor, got Tensor '
            r'of shape \(3, 4, 4\)'):
        pre.to_unit_range(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match='Expected 3 channels, got 1'):
        pre.from_unit_range(torch.zeros(1, 1, 4, 4))
    with pytest.raises(TypeError, match='float tensor'):
        pre.to_unit_range(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError, match='expects a dict with "inputs"'):
        pre([torch.zeros(3, 2, 2)])
