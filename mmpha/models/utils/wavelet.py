"""Wavelet helpers for PHA's frequency analysis (paper Sec. 3.2).

Every function works on a batch of RGB images in the unit range (``x01``),
on whatever device the batch lives on, and reads nothing from disk. The
discrete wavelet transform comes from :mod:`pytorch_wavelets`; the transform
modules are cached per configuration and device, so a training step costs
one DWT plus, for the low-frequency drop, the synthesis of the LL change
(a block replication for Haar, an inverse DWT otherwise).

Symbols used in the shapes: ``B`` batch size, ``H x W`` image size, ``h x w``
size of the finest detail bands (``ceil(H / 2) x ceil(W / 2)`` for Haar),
``h_J x w_J`` size of the low-frequency band after ``J`` levels.
"""
import functools
import math
from typing import List, Literal, Optional, Tuple, get_args

import pywt
import torch
from pytorch_wavelets import DWTForward, DWTInverse
from torch import Tensor

DWTMode = Literal['zero', 'symmetric', 'reflect', 'periodization']
QuantMode = Literal['release', 'hard']

DWT_MODES: Tuple[str, ...] = get_args(DWTMode)
QUANT_MODES: Tuple[str, ...] = get_args(QuantMode)

# Grey levels of an 8-bit image: the LL band is quantised in these units.
_GREY_LEVELS = 255.0


def check_wavelet_args(J: int, wave: str, dwt_mode: str) -> None:
    """Validate the wavelet configuration shared by every helper.

    Args:
        J (int): Number of decomposition levels; must be >= 1.
        wave (str): A discrete wavelet known to PyWavelets (``'haar'``,
            ``'db2'``, ...).
        dwt_mode (str): Signal extension mode, one of ``'zero'``,
            ``'symmetric'``, ``'reflect'``, ``'periodization'``.

    Raises:
        TypeError: If ``J`` is not an int or ``wave`` not a str.
        ValueError: If a value is out of its allowed set.
    """
    if not isinstance(J, int) or isinstance(J, bool):
        raise TypeError(f'J must be an int, got {J!r} ({type(J).__name__})')
    if J < 1:
        raise ValueError(f'J must be >= 1, got {J}')
    if not isinstance(wave, str):
        raise TypeError(f'wave must be a str, got {type(wave).__name__}')
    discrete = pywt.wavelist(kind='discrete')
    if wave not in discrete:
        raise ValueError(
            f'wave must be a discrete wavelet known to PyWavelets (e.g. '
            f"'haar', 'db2', 'sym4'), got {wave!r}")
    if dwt_mode not in DWT_MODES:
        raise ValueError(
            f'dwt_mode must be one of {DWT_MODES}, got {dwt_mode!r}')


@functools.lru_cache(maxsize=32)
def _transforms(J: int, wave: str, dwt_mode: str,
                device: torch.device) -> Tuple[DWTForward, DWTInverse]:
    # The filters are fixed buffers: caching the modules per device avoids
    # rebuilding and copying them in every training step.
    forward = DWTForward(J=J, wave=wave, mode=dwt_mode).to(device)
    inverse = DWTInverse(wave=wave, mode=dwt_mode).to(device)
    return forward, inverse


def _check_images(x: Tensor, name: str = 'x01') -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a Tensor, got {type(x).__name__}')
    if x.dim() != 4:
        raise ValueError(
            f'{name} must have shape (B, C, H, W), got {tuple(x.shape)}')
    if not x.is_floating_point():
        raise TypeError(f'{name} must be a floating-point tensor in [0, 1], '
                        f'got dtype {x.dtype}')


def dwt2d(x01: Tensor,
          J: int = 1,
          wave: str = 'haar',
          dwt_mode: DWTMode = 'zero') -> Tuple[Tensor, List[Tensor]]:
    """Multi-level 2-D discrete wavelet transform of a batch.

    Computed in float32 whatever the input dtype (the DWT runs outside
    autocast) so that the round trip stays at float32 precision.

    Args:
        x01 (Tensor): Images of shape ``(B, C, H, W)``.
        J (int): Number of levels. Defaults to 1.
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        dwt_mode (str): Signal extension mode. Defaults to ``'zero'``.

    Returns:
        tuple[Tensor, list[Tensor]]: ``ll`` of shape ``(B, C, h_J, w_J)`` and
        the detail bands, finest first, each of shape
        ``(B, C, 3, h_j, w_j)`` (LH, HL, HH along dim 2).
    """
    _check_images(x01)
    check_wavelet_args(J, wave, dwt_mode)
    forward, _ = _transforms(J, wave, dwt_mode, x01.device)
    with torch.autocast(device_type=x01.device.type, enabled=False):
        ll, highs = forward(x01.float())
    return ll, list(highs)


def idwt2d(ll: Tensor,
           highs: List[Tensor],
           wave: str = 'haar',
           dwt_mode: DWTMode = 'zero') -> Tensor:
    """Inverse of :func:`dwt2d`.

    Args:
        ll (Tensor): Low-frequency band of shape ``(B, C, h_J, w_J)``.
        highs (list[Tensor]): Detail bands, finest first, as returned by
            :func:`dwt2d`.
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        dwt_mode (str): Signal extension mode. Defaults to ``'zero'``.

    Returns:
        Tensor: Reconstructed images of shape ``(B, C, H', W')`` with
        ``H' >= H`` (equal for even sizes); crop to the input size.
    """
    check_wavelet_args(len(highs), wave, dwt_mode)
    _, inverse = _transforms(len(highs), wave, dwt_mode, ll.device)
    with torch.autocast(device_type=ll.device.type, enabled=False):
        return inverse((ll.float(), [h.float() for h in highs]))


def synthesise_ll(ll: Tensor,
                  highs: List[Tensor],
                  wave: str = 'haar',
                  dwt_mode: DWTMode = 'zero') -> Tensor:
    """Inverse DWT of a low-frequency band alone (all details zero).

    For the Haar wavelet this is exact and cheap: each LL coefficient ``c``
    of level ``J`` spreads ``c / 2 ** J`` over its ``2 ** J x 2 ** J`` block
    of pixels. Other wavelets go through :func:`idwt2d` with zero details.

    Args:
        ll (Tensor): Low-frequency band ``(B, C, h_J, w_J)``.
        highs (list[Tensor]): Detail bands of the same decomposition, only
            used for their number and shapes.
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        dwt_mode (str): Signal extension mode. Defaults to ``'zero'``.

    Returns:
        Tensor: ``(B, C, H', W')`` images, ``H' >= H``; crop to the input.
    """
    levels = len(highs)
    if wave in ('haar', 'db1'):
        factor = 2**levels
        out = ll.float() / factor
        return out.repeat_interleave(
            factor, dim=-2).repeat_interleave(
                factor, dim=-1)
    zeros = [torch.zeros_like(h, dtype=torch.float) for h in highs]
    return idwt2d(ll, zeros, wave=wave, dwt_mode=dwt_mode)


def ll_gain(wave: str = 'haar', J: int = 1) -> float:
    """DC gain of the low-frequency band after ``J`` levels.

    A constant image of value ``v`` gives LL coefficients ``gain * v`` away
    from the borders. For any orthonormal wavelet the 1-D low-pass filter sums
    to ``sqrt(2)``, so the 2-D gain is 2 per level: the Haar LL band of a
    one-level transform is twice the mean of each 2x2 block, not the mean.

    Args:
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        J (int): Number of levels. Defaults to 1.

    Returns:
        float: ``(sum(dec_lo)) ** (2 * J)``.
    """
    check_wavelet_args(J, wave, 'zero')
    return float(sum(pywt.Wavelet(wave).dec_lo))**(2 * J)


def hf_energy_from_details(details: Tensor) -> Tensor:
    """High-frequency energy map from one level of detail bands.

    The three detail bands are summed per channel and the L2 norm is taken
    over the colour channels (paper Sec. 3.2).

    Args:
        details (Tensor): Detail bands of shape ``(B, C, 3, h, w)``.

    Returns:
        Tensor: Energy map of shape ``(B, h, w)``, non-negative.
    """
    if details.dim() != 5 or details.shape[2] != 3:
        raise ValueError('details must have shape (B, C, 3, h, w), got '
                         f'{tuple(details.shape)}')
    return torch.linalg.vector_norm(details.sum(dim=2), dim=1)


def hf_energy_map(x01: Tensor,
                  J: int = 1,
                  wave: str = 'haar',
                  dwt_mode: DWTMode = 'zero') -> Tensor:
    """High-frequency energy map of a batch of images.

    Uses the finest detail bands, whatever ``J``.

    Args:
        x01 (Tensor): Images in the unit range, shape ``(B, C, H, W)``.
        J (int): Number of DWT levels. Defaults to 1.
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        dwt_mode (str): Signal extension mode. Defaults to ``'zero'``.

    Returns:
        Tensor: Energy map of shape ``(B, h, w)`` (``h = H / 2`` for Haar and
        even ``H``).
    """
    _, highs = dwt2d(x01, J=J, wave=wave, dwt_mode=dwt_mode)
    return hf_energy_from_details(highs[0])


def num_top(ratio: float, total: int) -> int:
    """Number of elements kept when keeping the top ``ratio`` of ``total``.

    Rounded down as in the paper's code (40 % of 8192 positions is 3276, of
    210 patches is 84).

    Args:
        ratio (float): Fraction in ``[0, 1]``.
        total (int): Number of elements.

    Returns:
        int: ``floor(ratio * total)`` computed robustly against float error.
    """
    # 0.4 * 210 is 84.00000000000001 in binary floating point; rounding to
    # 9 digits before flooring keeps exact products exact.
    return int(math.floor(round(ratio * total, 9)))


def hf_region(energy: Tensor, ratio: float = 0.4) -> Tensor:
    """Mark the top ``ratio`` of the energy positions of each sample.

    Args:
        energy (Tensor): Energy maps of shape ``(B, h, w)``.
        ratio (float): Fraction of positions to mark, in ``[0, 1]``.
            ``floor(ratio * h * w)`` positions are marked per sample.
            Defaults to 0.4.

    Returns:
        Tensor: Bool mask of shape ``(B, h, w)``, True in the HF region.
    """
    if energy.dim() != 3:
        raise ValueError(
            f'energy must have shape (B, h, w), got {tuple(energy.shape)}')
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f'ratio must be in [0, 1], got {ratio}')
    batch = energy.shape[0]
    flat = energy.reshape(batch, -1)
    k = num_top(ratio, flat.shape[1])
    region = torch.zeros_like(flat, dtype=torch.bool)
    if k > 0:
        top = flat.topk(k, dim=1, largest=True, sorted=False).indices
        region.scatter_(1, top, True)
    return region.view_as(energy)


def soft_round(x: Tensor, alpha: float) -> Tensor:
    """Smooth rounding to the nearest integer (tanh-based).

    Within each unit interval the fractional part ``r`` is mapped to
    ``(1 + s * tanh(k * (r - 0.5))) / 2`` with ``k = log(2 / alpha - 1)``
    and ``s = 1 / (1 - alpha)``, so that the map is continuous, fixes the
    integers and the half-integers, and is differentiable. ``alpha`` sets
    the softness: towards 0 it approaches hard rounding, towards 1 the
    identity. The paper's code uses ``alpha = 0.1``, which moves a value at
    most about 0.1 of a unit towards its nearest integer.

    Args:
        x (Tensor): Input of any shape.
        alpha (float): Softness in ``(0, 1)``.

    Returns:
        Tensor: Softly rounded values, same shape as ``x``.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f'alpha must be in (0, 1), got {alpha}')
    k = math.log(2.0 / alpha - 1.0)
    s = 1.0 / (1.0 - alpha)
    base = torch.floor(x)
    return base + (1.0 + s * torch.tanh(k * (x - base - 0.5))) / 2.0


def quantise_ll(ll: Tensor,
                region: Tensor,
                step: float = 5.0,
                alpha: float = 0.1,
                quant_mode: QuantMode = 'release',
                gain: float = 2.0) -> Tensor:
    """Quantise the low-frequency band inside the HF region.

    LL is first brought to grey levels (``ll / gain * 255``: the mean pixel
    value of the block in 0..255), quantised with step ``step`` where
    ``region`` is True, left bit-identical elsewhere, and scaled back.

    Args:
        ll (Tensor): Low-frequency band of shape ``(B, C, h_J, w_J)``.
        region (Tensor): Bool mask of shape ``(B, h_J, w_J)``.
        step (float): Quantisation step in grey levels; must be > 0.
            Defaults to 5.
        alpha (float): Softness of the smooth rounding (``'release'`` mode
            only), in ``(0, 1)``. Defaults to 0.1.
        quant_mode (str): ``'release'`` for the smooth tanh rounding of the
            paper's code, ``'hard'`` for true rounding with a
            straight-through gradient. Defaults to ``'release'``.
        gain (float): DC gain of the LL band, see :func:`ll_gain`.
            Defaults to 2.0 (Haar, one level).

    Returns:
        Tensor: Quantised LL, same shape and dtype as ``ll``.
    """
    if step <= 0:
        raise ValueError(f'step must be > 0, got {step}')
    if quant_mode not in QUANT_MODES:
        raise ValueError(
            f'quant_mode must be one of {QUANT_MODES}, got {quant_mode!r}')
    if region.shape != (ll.shape[0], *ll.shape[2:]):
        raise ValueError(
            f'region must have shape {(ll.shape[0], *ll.shape[2:])} to '
            f'match ll of shape {tuple(ll.shape)}, got {tuple(region.shape)}')
    scale = _GREY_LEVELS / gain
    units = ll * (scale / step)
    if quant_mode == 'release':
        rounded = soft_round(units, alpha)
    else:
        # Straight-through: the forward pass rounds, the gradient is the
        # identity's.
        rounded = units + (torch.round(units) - units).detach()
    quantised = rounded * (step / scale)
    return torch.where(region.unsqueeze(1), quantised, ll)


def low_frequency_drop(x01: Tensor,
                       region: Tensor,
                       step: float = 5.0,
                       alpha: float = 0.1,
                       quant_mode: QuantMode = 'release',
                       J: int = 1,
                       wave: str = 'haar',
                       dwt_mode: DWTMode = 'zero',
                       coeffs: Optional[Tuple[Tensor, List[Tensor]]] = None,
                       return_coeffs: bool = False):
    """Coarsen the low frequencies of the HF region, keep every detail.

    The image is decomposed, its LL band quantised inside the HF region by
    :func:`quantise_ll`, and the image rebuilt from the quantised LL and the
    *original* detail bands (paper Sec. 3.2, "low-frequency drop"). Since
    the transform is linear, the rebuilt image is computed as ``x01`` plus
    the synthesis of the LL change alone (:func:`synthesise_ll`): pixels
    under unquantised coefficients stay bit-identical. The result is not
    clipped to ``[0, 1]``: clipping would alter the details.

    Args:
        x01 (Tensor): Images in the unit range, shape ``(B, C, H, W)``.
        region (Tensor): Bool HF region of shape ``(B, h, w)`` at the
            resolution of the finest detail bands (from :func:`hf_region`).
            For ``J > 1`` a coarse LL coefficient is quantised when any
            finest-level position it covers is in the region.
        step (float): Quantisation step in grey levels. Defaults to 5.
        alpha (float): Smooth-rounding softness. Defaults to 0.1.
        quant_mode (str): ``'release'`` or ``'hard'``, see
            :func:`quantise_ll`. Defaults to ``'release'``.
        J (int): Number of DWT levels. Defaults to 1.
        wave (str): PyWavelets wavelet name. Defaults to ``'haar'``.
        dwt_mode (str): Signal extension mode. Defaults to ``'zero'``.
        coeffs (tuple, optional): ``(ll, highs)`` of ``x01`` from
            :func:`dwt2d` with the same settings, to avoid computing the
            transform twice. Defaults to None.
        return_coeffs (bool): Also return the quantised LL and the detail
            bands used for the reconstruction. Defaults to False.

    Returns:
        Tensor | tuple: ``x_hf01`` of shape ``(B, C, H, W)`` in the dtype of
        ``x01``; with ``return_coeffs`` also ``(ll_q, highs)``.

    Example:
        >>> x01 = torch.rand(2, 3, 32, 16)
        >>> region = hf_region(hf_energy_map(x01), ratio=0.4)
        >>> x_hf01 = low_frequency_drop(x01, region, quant_mode='hard')
        >>> x_hf01.shape
        torch.Size([2, 3, 32, 16])
    """
    if coeffs is None:
        coeffs = dwt2d(x01, J=J, wave=wave, dwt_mode=dwt_mode)
    ll, highs = coeffs
    if len(highs) != J:
        raise ValueError(f'coeffs hold {len(highs)} levels, expected J={J}')
    if region.dtype != torch.bool:
        raise TypeError(f'region must be a bool tensor, got {region.dtype}')
    expected = (x01.shape[0], *highs[0].shape[-2:])
    if tuple(region.shape) != expected:
        raise ValueError(f'region must have shape {expected} (the finest '
                         f'detail bands), got {tuple(region.shape)}')
    if tuple(region.shape[-2:]) != tuple(ll.shape[-2:]):
        region = torch.nn.functional.adaptive_max_pool2d(
            region.unsqueeze(1).float(), ll.shape[-2:]).squeeze(1) > 0
    ll_q = quantise_ll(
        ll,
        region,
        step=step,
        alpha=alpha,
        quant_mode=quant_mode,
        gain=ll_gain(wave, J))
    # The transform is linear and only LL changed, so x_hf is x plus the
    # synthesis of the LL change alone: pixels whose LL coefficients were
    # not quantised stay bit-identical, and no reconstruction error is added
    # elsewhere.
    delta = synthesise_ll(ll_q - ll, highs, wave=wave, dwt_mode=dwt_mode)
    delta = delta[..., :x01.shape[-2], :x01.shape[-1]]
    x_hf = (x01.float() + delta).to(x01.dtype)
    if return_coeffs:
        return x_hf, (ll_q, highs)
    return x_hf
