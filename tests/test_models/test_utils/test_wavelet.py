"""Wavelet helpers of PHA: DWT round trip, HF map and region, LF drop."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmpha.models.utils import (dwt2d, hf_energy_map, hf_region, idwt2d,
                                ll_gain, low_frequency_drop, quantise_ll,
                                soft_round, synthesise_ll)

SIZES = [(256, 128), (64, 32), (30, 18)]


def _images(batch, size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *size, generator=gen)


@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('wave,J', [('haar', 1), ('haar', 2), ('db2', 1)])
def test_dwt_round_trip(size, wave, J):
    x = _images(3, size)
    ll, highs = dwt2d(x, J=J, wave=wave)
    assert len(highs) == J
    assert highs[0].shape[:3] == (3, 3, 3)
    rec = idwt2d(ll, highs, wave=wave)[..., :size[0], :size[1]]
    assert rec.shape == x.shape
    assert torch.allclose(rec, x, atol=1e-5), (rec - x).abs().max()


def test_haar_ll_is_twice_the_block_mean():
    x = _images(2, (32, 16))
    ll, highs = dwt2d(x)
    assert torch.allclose(ll, 2 * F.avg_pool2d(x, 2), atol=1e-6)
    assert highs[0].shape == (2, 3, 3, 16, 8)
    assert ll_gain('haar', 1) == pytest.approx(2.0)
    assert ll_gain('haar', 2) == pytest.approx(4.0)
    assert ll_gain('db2', 1) == pytest.approx(2.0)


def test_hf_energy_map_formula():
    x = _images(2, (16, 8))
    _, highs = dwt2d(x)
    expected = highs[0].sum(dim=2).pow(2).sum(dim=1).sqrt()
    energy = hf_energy_map(x)
    assert energy.shape == (2, 8, 4)
    assert torch.allclose(energy, expected)
    # A flat image has no high frequencies.
    assert hf_energy_map(torch.full((1, 3, 8, 8), 0.3)).abs().max() < 1e-6


def test_hf_region_marks_the_top_ratio_of_each_sample():
    energy = torch.rand(5, 10, 8)
    region = hf_region(energy, 0.4)
    assert region.dtype == torch.bool
    # floor(0.4 * 80) = 32 per sample.
    assert region.sum(dim=(1, 2)).tolist() == [32] * 5
    flat_e, flat_r = energy.flatten(1), region.flatten(1)
    for e, r in zip(flat_e, flat_r):
        assert e[r].min() >= e[~r].max()
    assert not hf_region(energy, 0.0).any()
    assert hf_region(energy, 1.0).all()
    with pytest.raises(ValueError, match='ratio must be in'):
        hf_region(energy, 1.5)


def test_hf_region_finds_a_textured_area():
    x = torch.full((1, 3, 32, 32), 0.5)
    # A one-pixel checkerboard in the top-left 8x8 quarter only.
    yy, xx = torch.meshgrid(torch.arange(8), torch.arange(8), indexing='ij')
    x[:, :, :8, :8] = ((yy + xx) % 2).float()
    region = hf_region(hf_energy_map(x), 16 / 256)
    expected = torch.zeros(1, 16, 16, dtype=torch.bool)
    expected[:, :4, :4] = True
    assert torch.equal(region, expected)


def test_soft_round_values():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 2.5, -0.25])
    out = soft_round(x, 0.1)
    # k = log(19), s = 1 / 0.9: 0.25 -> (1 + s * tanh(-k / 4)) / 2 = 0.15178.
    expected = [0.0, 0.15178, 0.5, 0.84822, 1.0, 2.5, -0.15178]
    assert out.tolist() == pytest.approx(expected, abs=1e-5)
    # alpha = 0.1 barely rounds; a tiny alpha is nearly a hard rounding.
    grid = torch.linspace(-3, 3, 601)
    assert (soft_round(grid, 0.1) - grid).abs().max() < 0.11
    away_from_half = torch.tensor([-2.9, -1.3, 0.1, 0.3, 0.7, 1.9, 2.2])
    sharp = soft_round(away_from_half, 1e-6)
    assert torch.allclose(sharp, torch.round(away_from_half), atol=1e-2)
    with pytest.raises(ValueError, match='alpha must be in'):
        soft_round(x, 1.0)


@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('quant_mode', ['release', 'hard'])
def test_lf_drop_keeps_details_and_changes_ll_only_in_region(size, quant_mode):
    x = _images(3, size, seed=1)
    ll, highs = dwt2d(x)
    region = hf_region(hf_energy_map(x), 0.4)
    x_hf, (ll_q, highs_used) = low_frequency_drop(
        x, region, step=5, quant_mode=quant_mode, return_coeffs=True)
    assert x_hf.shape == x.shape and x_hf.dtype == x.dtype
    # The detail bands fed to the inverse transform are the original ones.
    assert torch.equal(highs_used[0], highs[0])
    inside = region.unsqueeze(1).expand_as(ll)
    # Outside the HF region LL is untouched, bit for bit.
    assert torch.equal(ll_q[~inside], ll[~inside])
    changed = (ll_q != ll)
    assert not changed[~inside].any()
    assert changed[inside].float().mean() > 0.9
    # So are the pixels of the 2x2 blocks outside the region.
    outside_px = ~region.repeat_interleave(2, 1).repeat_interleave(2, 2)
    outside_px = outside_px[:, :size[0], :size[1]].unsqueeze(1).expand_as(x)
    assert torch.equal(x_hf[outside_px], x[outside_px])
    # Re-analysing x_hf gives the same details and the quantised LL.
    ll_re, highs_re = dwt2d(x_hf)
    assert torch.allclose(highs_re[0], highs[0], atol=1e-5)
    assert torch.allclose(ll_re, ll_q, atol=1e-5)


def test_hard_quantisation_is_in_grey_levels():
    x = _images(2, (32, 16), seed=2)
    ll, _ = dwt2d(x)
    region = torch.ones(2, 16, 8, dtype=torch.bool)
    ll_q = quantise_ll(ll, region, step=5, quant_mode='hard', gain=2.0)
    grey = ll_q / 2 * 255
    # Multiples of 5 grey levels of the block mean, not of 5 / 2.
    assert torch.allclose(grey / 5, torch.round(grey / 5), atol=1e-3)
    assert (grey - ll / 2 * 255).abs().max() <= 2.5 + 1e-3
    # The image moves by the same amount as the block mean.
    x_hf = low_frequency_drop(x, region, step=5, quant_mode='hard')
    block_shift = F.interpolate((ll_q - ll) / 2, scale_factor=2)
    assert torch.allclose(x_hf - x, block_shift, atol=1e-5)


def test_release_quantisation_moves_less_than_one_grey_level():
    x = _images(2, (64, 32), seed=3)
    region = torch.ones(2, 32, 16, dtype=torch.bool)
    x_hf = low_frequency_drop(x, region, step=5, alpha=0.1)
    shift = (x_hf - x).abs().max() * 255
    # At most about 0.1 of a 5-level step: the paper's setting barely
    # rounds (pha_method.md, section 4).
    assert 0.1 < shift < 0.55


def test_hard_quantisation_has_straight_through_gradient():
    ll = torch.rand(1, 3, 4, 4, requires_grad=True)
    region = torch.ones(1, 4, 4, dtype=torch.bool)
    region[0, 0, 0] = False
    quantise_ll(ll, region, quant_mode='hard').sum().backward()
    assert torch.allclose(ll.grad, torch.ones_like(ll))


def test_multi_level_lf_drop_quantises_the_coarse_band():
    x = _images(2, (32, 32), seed=4)
    region = torch.zeros(2, 16, 16, dtype=torch.bool)
    region[:, :8, :8] = True
    x_hf, (ll_q, highs) = low_frequency_drop(
        x, region, step=5, quant_mode='hard', J=2, return_coeffs=True)
    ll, _ = dwt2d(x, J=2)
    assert ll_q.shape == ll.shape == (2, 3, 8, 8)
    changed = (ll_q != ll).any(dim=1)
    assert not changed[:, 4:, :].any() and not changed[:, :, 4:].any()
    grey = ll_q[:, :, :4, :4] / 4 * 255
    assert torch.allclose(grey / 5, torch.round(grey / 5), atol=1e-3)
    # Pixels under unquantised coefficients are bit-identical.
    assert torch.equal(x_hf[:, :, 16:, :], x[:, :, 16:, :])
    assert torch.equal(x_hf[:, :, :, 16:], x[:, :, :, 16:])


@pytest.mark.parametrize('size', [(30, 18), (37, 29)])
@pytest.mark.parametrize('J', [1, 2, 3])
def test_fast_haar_synthesis_equals_the_inverse_dwt(size, J):
    x = _images(2, size, seed=5)
    ll, highs = dwt2d(x, J=J)
    zeros = [torch.zeros_like(h) for h in highs]
    fast = synthesise_ll(ll, highs)[..., :size[0], :size[1]]
    slow = idwt2d(ll, zeros)[..., :size[0], :size[1]]
    assert torch.allclose(fast, slow, atol=1e-6)
    generic = synthesise_ll(*dwt2d(x, wave='db2'), wave='db2')
    assert generic.shape[:2] == (2, 3)


def test_bad_arguments():
    x = _images(1, (16, 16))
    region = torch.ones(1, 8, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match="wave must be a discrete wavelet"):
        dwt2d(x, wave='not-a-wavelet')
    with pytest.raises(ValueError, match='J must be >= 1'):
        dwt2d(x, J=0)
    with pytest.raises(ValueError, match='dwt_mode must be one of'):
        dwt2d(x, dwt_mode='wrap')
    with pytest.raises(ValueError, match='quant_mode must be one of'):
        low_frequency_drop(x, region, quant_mode='round')
    with pytest.raises(ValueError, match='region must have shape'):
        low_frequency_drop(x, region[:, :4])
    with pytest.raises(TypeError, match='region must be a bool'):
        low_frequency_drop(x, region.float())
    with pytest.raises(ValueError, match=r'shape \(B, C, H, W\)'):
        dwt2d(x[0])
    with pytest.raises(ValueError, match='step must be > 0'):
        low_frequency_drop(x, region, step=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.cuda
def test_lf_drop_on_cuda_matches_cpu():
    x = _images(3, (64, 32))
    region = hf_region(hf_energy_map(x), 0.4)
    cpu = low_frequency_drop(x, region)
    gpu = low_frequency_drop(x.cuda(), region.cuda())
    assert gpu.device.type == 'cuda'
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)
    assert math.isclose(
        float(hf_energy_map(x.cuda()).sum()),
        float(hf_energy_map(x).sum()),
        rel_tol=1e-4)
