"""PHANeck: the per-batch frequency analysis of PHA."""
import pytest
import torch
import torch.nn.functional as F

from mmpha.models.necks import PHANeck
from mmpha.models.utils import (hf_energy_map, hf_region, low_frequency_drop,
                                select_hf_patches)
from mmpha.registry import MODELS


def _neck(**kwargs):
    cfg = dict(type='PHANeck', patch_size=16, stride=12)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.mark.parametrize('batch', [3, 5])
def test_outputs_for_the_same_batch(batch):
    x = torch.rand(batch, 3, 256, 128)
    neck = _neck()
    assert isinstance(neck, PHANeck)
    assert len(list(neck.parameters())) == 0
    assert len(neck.state_dict()) == 0
    x_hf, keep = neck(x)
    assert x_hf.shape == x.shape and x_hf.dtype == x.dtype
    assert keep.shape == (batch, 84) and keep.dtype == torch.int64
    energy = hf_energy_map(x)
    region = hf_region(energy, 0.4)
    assert torch.equal(x_hf, low_frequency_drop(x, region, 5, 0.1))
    assert torch.equal(keep, select_hf_patches(energy, (256, 128), 16, 12))
    # x_hf differs from x only in the 2x2 blocks of the HF region.
    moved = (x_hf != x).any(dim=1)
    outside = ~F.interpolate(
        region.unsqueeze(1).float(), scale_factor=2).squeeze(1).bool()
    assert not moved[outside].any()
    assert moved[~outside].float().mean() > 0.5


def test_runs_without_gradient():
    x = torch.rand(2, 3, 64, 32, requires_grad=True)
    x_hf, keep = _neck(patch_size=8, stride=6)(x)
    assert not x_hf.requires_grad and not keep.requires_grad


def test_switches():
    x = torch.rand(2, 3, 64, 32)
    x_hf, keep = _neck(use_lf_drop=False, patch_size=8, stride=6)(x)
    assert x_hf is x
    out = _neck(
        quant_mode='hard', quant_step=8, patch_size=8, stride=6).analyse(x)
    assert set(out) == {'energy', 'region', 'x_hf01', 'keep_idx'}
    shift = (out['x_hf01'] - x).abs().max() * 255
    assert 2.0 < shift <= 4.0 + 1e-3
    release = _neck(
        ranking='release', keep_ratio=0.5, patch_size=8, stride=6).analyse(x)
    assert torch.equal(
        release['keep_idx'],
        select_hf_patches(release['region'], (64, 32), 8, 6, 0.5, 'release'))
    assert release['keep_idx'].shape == (2, 25)  # half of 10 x 5
    db2 = _neck(wave='db2', J=2, patch_size=8, stride=6)(x)
    assert db2[0].shape == x.shape


def test_patch_geometry_from_the_model():
    neck = PHANeck()
    with pytest.raises(RuntimeError, match='patch geometry'):
        neck(torch.rand(1, 3, 32, 16))
    neck.set_patch_embed(16, 12)
    assert neck(torch.rand(1, 3, 32, 32))[1].shape == (1, 1)
    with pytest.raises(ValueError, match='does not match the backbone'):
        neck.set_patch_embed(16, 16)


@pytest.mark.parametrize('kwargs,match', [
    (dict(hf_ratio=1.2), 'hf_ratio must be in'),
    (dict(keep_ratio=0), 'keep_ratio must be in'),
    (dict(quant_step=0), 'quant_step must be > 0'),
    (dict(alpha=0), 'alpha must be in'),
    (dict(quant_mode='round'), 'quant_mode must be one of'),
    (dict(ranking='first'), 'ranking must be one of'),
    (dict(wave='nope'), 'wave must be a discrete wavelet'),
    (dict(J=0), 'J must be >= 1'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PHANeck(**kwargs)
    with pytest.raises(TypeError, match='use_lf_drop must be a bool'):
        PHANeck(use_lf_drop='yes')
