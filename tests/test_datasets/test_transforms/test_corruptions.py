import numpy as np
import pytest
import torch
from pytorch_wavelets import DWTForward

from mmpha.datasets.transforms.corruptions import (CORRUPTIONS, corruption_cfg,
                                                   haar_dwt2, haar_idwt2,
                                                   insert_after_loading,
                                                   remove_high_frequency)
from mmpha.registry import TRANSFORMS
from mmpha.utils import register_all_modules

register_all_modules(init_default_scope=True)


def _person_like(seed=0, shape=(128, 64, 3)):
    """A textured uint8 image: smooth gradients, blocks and fine stripes."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w]
    img = 60 + 80 * (yy / h)[..., None] + 30 * np.sin(xx / 3.0)[..., None]
    img = np.repeat(img, c, axis=2)
    for _ in range(12):
        y, x = rng.integers(0, h - 16), rng.integers(0, w - 8)
        img[y:y + 16, x:x + 8] = rng.uniform(0, 255, size=c)
    img += 20 * ((xx + yy) % 2)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return np.inf if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _apply(name, severity, img, **kw):
    t = TRANSFORMS.build(corruption_cfg(name, severity, **kw))
    results = dict(img=img.copy(), img_path='x/0001_c1_0.jpg', is_query=True)
    return t(results)['img']


@pytest.mark.parametrize('name', sorted(CORRUPTIONS))
def test_identity_at_zero_and_shape_dtype(name):
    img = _person_like()
    np.testing.assert_array_equal(_apply(name, 0, img), img)
    out = _apply(name, 3, img)
    assert out.shape == img.shape and out.dtype == img.dtype
    f = img.astype(np.float32)
    out_f = _apply(name, 3, f)
    assert out_f.dtype == np.float32 and out_f.shape == f.shape


@pytest.mark.parametrize('name', sorted(CORRUPTIONS))
def test_monotone_degradation(name):
    for seed in range(3):
        img = _person_like(seed)
        psnr = [_psnr(img, _apply(name, s, img)) for s in range(6)]
        assert psnr[0] == np.inf
        assert all(a > b for a, b in zip(psnr, psnr[1:])), (name, psnr)
        # The strongest clearly degrades.
        assert psnr[5] < 25, (name, psnr)


@pytest.mark.parametrize('name', sorted(CORRUPTIONS))
def test_deterministic_per_image(name):
    img = _person_like()
    a = _apply(name, 4, img)
    b = _apply(name, 4, img)
    np.testing.assert_array_equal(a, b)


def test_noise_seeded_by_path_not_order():
    img = _person_like()
    t = TRANSFORMS.build(corruption_cfg('noise', 2, apply_to='all'))

    def run(path, **extra):
        return t(dict(img=img.copy(), img_path=path, **extra))['img']

    a1 = run('a.jpg')
    b = run('b.jpg')
    a2 = run('a.jpg')
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, b)
    other_seed = TRANSFORMS.build(
        corruption_cfg('noise', 2, apply_to='all', seed=1))
    c = other_seed(dict(img=img.copy(), img_path='a.jpg'))['img']
    assert not np.array_equal(a1, c)
    # Without a path, the sample index seeds it.
    s1 = t(dict(img=img.copy(), img_path='', sample_idx=3))['img']
    s2 = t(dict(img=img.copy(), sample_idx=3))['img']
    s3 = t(dict(img=img.copy(), sample_idx=4))['img']
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1, s3)
    with pytest.raises(KeyError, match='sample_idx'):
        t(dict(img=img.copy()))


def test_apply_to_query_gallery_all():
    img = _person_like()
    for apply_to, changes_q, changes_g in (('query', True,
                                            False), ('gallery', False, True),
                                           ('all', True, True)):
        t = TRANSFORMS.build(corruption_cfg('blur', 2, apply_to=apply_to))
        q = t(dict(img=img.copy(), img_path='q.jpg', is_query=True))['img']
        g = t(dict(img=img.copy(), img_path='g.jpg', is_query=False))['img']
        assert (not np.array_equal(q, img)) == changes_q
        assert (not np.array_equal(g, img)) == changes_g
    t = TRANSFORMS.build(corruption_cfg('blur', 2))
    with pytest.raises(KeyError, match='is_query'):
        t(dict(img=img.copy(), img_path='q.jpg'))


def test_bad_arguments():
    with pytest.raises(ValueError, match='severity'):
        TRANSFORMS.build(dict(type='JPEGCorruption', severity=6))
    with pytest.raises(ValueError, match='severity'):
        TRANSFORMS.build(dict(type='JPEGCorruption', severity=-1))
    with pytest.raises(ValueError, match='apply_to'):
        TRANSFORMS.build(dict(type='JPEGCorruption', apply_to='both'))
    with pytest.raises(ValueError, match='Unknown corruption'):
        corruption_cfg('fog', 1)
    with pytest.raises(ValueError, match='loading'):
        insert_after_loading([dict(type='Resize')], dict(type='X'))


def test_insert_after_loading():
    pipe = [dict(type='LoadReIDImage'), dict(type='PackReIDInputs')]
    out = insert_after_loading(pipe, dict(type='X'))
    assert [t['type'] for t in out] == ['LoadReIDImage', 'X', 'PackReIDInputs']
    assert len(pipe) == 2


def test_haar_matches_pytorch_wavelets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6))
    low, high = haar_dwt2(x)
    dwt = DWTForward(J=1, wave='haar', mode='zero').double()
    yl, yh = dwt(torch.from_numpy(x)[None, None])
    np.testing.assert_allclose(low, yl[0, 0].numpy(), atol=1e-12)
    # pytorch_wavelets orders the detail bands (LH, HL, HH) the same way,
    # up to sign conventions: compare magnitudes band by band.
    for band in range(3):
        np.testing.assert_allclose(
            np.abs(high[band]), np.abs(yh[0][0, 0, band].numpy()), atol=1e-12)
    np.testing.assert_allclose(haar_idwt2(low, high), x, atol=1e-12)


@pytest.mark.parametrize('levels', [1, 2, 3])
def test_wavelet_removes_exactly_the_high_frequencies(levels):
    rng = np.random.default_rng(levels)
    img = rng.uniform(0, 255, size=(32, 16, 3))
    out = remove_high_frequency(img, levels)
    # An independent DWT (pytorch_wavelets) of input and output: the
    # detail bands of every level vanish, the low band is unchanged.
    dwt = DWTForward(J=levels, wave='haar', mode='zero').double()

    def to_t(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0,
                                                                 1)))[None]

    yl_in, _ = dwt(to_t(img))
    yl_out, yh_out = dwt(to_t(out))
    for band in yh_out:
        assert band.abs().max() < 1e-9
    torch.testing.assert_close(yl_out, yl_in, rtol=0, atol=1e-9)
    # Energy: what is left is exactly the low band's energy.
    assert np.isclose((out**2).sum(), float((yl_in**2).sum()))
    # The transform itself, through the registry, on a float image.
    t = TRANSFORMS.build(dict(type='WaveletHFRemoval', severity=levels))
    np.testing.assert_allclose(
        t(dict(img=img.astype(np.float32), is_query=True))['img'],
        out,
        rtol=1e-5)


def test_wavelet_block_means_and_odd_sizes():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, size=(13, 7))
    out = remove_high_frequency(img, 1)
    assert out.shape == img.shape
    # Aligned 2x2 blocks take their mean; the last row / column is
    # repeated into the padding.
    padded = np.pad(img, [(0, 1), (0, 1)], mode='edge')
    means = padded.reshape(7, 2, 4, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out, np.kron(means, np.ones((2, 2)))[:13, :7])
