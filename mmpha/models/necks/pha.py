"""PHA's frequency analysis: HF map, low-frequency drop and patch selection."""
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmpha.registry import MODELS
from ..utils.patch_selection import RANKINGS, Ranking, select_hf_patches
from ..utils.wavelet import (QUANT_MODES, DWTMode, QuantMode,
                             check_wavelet_args, dwt2d, hf_energy_from_details,
                             hf_region, low_frequency_drop)

IntPair = Union[int, Tuple[int, int]]


@MODELS.register_module()
class PHANeck(BaseModule):
    """Patch-wise high-frequency augmentation of a batch (paper Sec. 3.2).

    From a batch of augmented images in the unit range it computes, on the
    device and without any disk access:

    1. the HF energy map (one DWT; the detail bands summed per channel, L2
       norm over RGB) and the HF region, its top ``hf_ratio`` positions;
    2. ``x_hf``, the low-frequency drop of the batch: the LL band is
       quantised with step ``quant_step`` (in grey levels) inside the HF
       region and the image rebuilt with the original detail bands;
    3. the indices of the ``keep_ratio`` patches of the ViT grid to keep.

    The neck has no parameters and runs under ``torch.no_grad()``: ``x_hf``
    is an augmented input like a flipped or erased image, and the selection
    is a discrete choice, so neither needs a gradient. This also keeps the
    DWT out of the autograd graph and out of mixed precision (it is computed
    in float32).

    The patch embedding geometry (``patch_size``, ``stride``) must be that of
    the backbone; the :class:`PHA` model fills it in from the backbone when it
    is left as None, and rejects a mismatch.

    Args:
        hf_ratio (float): Fraction of the DWT positions forming the HF
            region, in ``[0, 1]``. Defaults to 0.4.
        keep_ratio (float): Fraction of the ``N`` patch tokens kept in each
            HF subset, in ``(0, 1]``. Defaults to 0.4 (84 of 210).
        quant_step (float): LL quantisation step in grey levels (0..255)
            inside the HF region. Defaults to 5.
        alpha (float): Softness of the smooth rounding of the ``'release'``
            quantisation, in ``(0, 1)``. Defaults to 0.1.
        quant_mode (str): ``'release'`` (smooth tanh rounding, as in the
            paper's code; it barely moves the values at ``alpha=0.1``) or
            ``'hard'`` (true rounding, straight-through gradient). Defaults to
            ``'release'``.
        wave (str): PyWavelets wavelet. Defaults to ``'haar'``.
        J (int): DWT levels; the HF map uses the finest level and the
            quantisation the coarsest LL. Defaults to 1.
        dwt_mode (str): DWT signal extension mode. Defaults to ``'zero'``.
        ranking (str): Patch ranking, ``'energy'`` (top-k patches by mean HF
            energy over their pixels, returned in raster order) or
            ``'release'`` (the first k HF-marked patches in raster order,
            then unmarked fillers, in the paper's code's order). Defaults to
            ``'energy'``.
        use_lf_drop (bool): Apply the low-frequency drop. When False ``x_hf``
            is the input itself (ablation). Defaults to True.
        patch_size (int | tuple[int, int], optional): Patch size of the
            backbone's embedding. Defaults to None (set by the model).
        stride (int | tuple[int, int], optional): Stride of the backbone's
            embedding. Defaults to None (set by the model).
        init_cfg (dict, optional): Unused (no parameters). Defaults to None.
    """

    def __init__(self,
                 hf_ratio: float = 0.4,
                 keep_ratio: float = 0.4,
                 quant_step: float = 5.0,
                 alpha: float = 0.1,
                 quant_mode: QuantMode = 'release',
                 wave: str = 'haar',
                 J: int = 1,
                 dwt_mode: DWTMode = 'zero',
                 ranking: Ranking = 'energy',
                 use_lf_drop: bool = True,
                 patch_size: Optional[IntPair] = None,
                 stride: Optional[IntPair] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0.0 <= hf_ratio <= 1.0:
            raise ValueError(f'hf_ratio must be in [0, 1], got {hf_ratio}')
        if not 0.0 < keep_ratio <= 1.0:
            raise ValueError(f'keep_ratio must be in (0, 1], got {keep_ratio}')
        if quant_step <= 0:
            raise ValueError(f'quant_step must be > 0, got {quant_step}')
        if not 0.0 < alpha < 1.0:
            raise ValueError(f'alpha must be in (0, 1), got {alpha}')
        if quant_mode not in QUANT_MODES:
            raise ValueError(f'quant_mode must be one of {QUANT_MODES}, '
                             f'got {quant_mode!r}')
        if ranking not in RANKINGS:
            raise ValueError(
                f'ranking must be one of {RANKINGS}, got {ranking!r}')
        if not isinstance(use_lf_drop, bool):
            raise TypeError(f'use_lf_drop must be a bool, got {use_lf_drop!r}')
        check_wavelet_args(J, wave, dwt_mode)
        self.hf_ratio = float(hf_ratio)
        self.keep_ratio = float(keep_ratio)
        self.quant_step = float(quant_step)
        self.alpha = float(alpha)
        self.quant_mode = quant_mode
        self.wave = wave
        self.J = J
        self.dwt_mode = dwt_mode
        self.ranking = ranking
        self.use_lf_drop = use_lf_drop
        self.patch_size = patch_size
        self.stride = stride

    def set_patch_embed(self, patch_size: IntPair, stride: IntPair) -> None:
        """Set the patch geometry of the backbone, or check it.

        Args:
            patch_size (int | tuple[int, int]): Backbone patch size.
            stride (int | tuple[int, int]): Backbone patch stride.

        Raises:
            ValueError: If a value given in the config differs from the
                backbone's.
        """
        for name, value in (('patch_size', patch_size), ('stride', stride)):
            current = getattr(self, name)
            if current is not None and _as_pair(current) != _as_pair(value):
                raise ValueError(
                    f'PHANeck {name}={current} does not match the '
                    f"backbone's {name}={value}; leave it as None")
            setattr(self, name, value)

    @torch.no_grad()
    def analyse(self, x01: Tensor) -> Dict[str, Tensor]:
        """Run the full analysis and return every intermediate result.

        Args:
            x01 (Tensor): Augmented images in the unit range,
                ``(B, 3, H, W)``.

        Returns:
            dict[str, Tensor]: ``energy`` ``(B, h, w)``; ``region`` bool
            ``(B, h, w)``; ``x_hf01`` ``(B, 3, H, W)``; ``keep_idx`` long
            ``(B, K)`` into the ``N`` patch tokens.
        """
        if self.patch_size is None or self.stride is None:
            raise RuntimeError(
                'PHANeck needs the patch geometry of the backbone: set '
                'patch_size and stride, or build it inside a PHA model')
        coeffs = dwt2d(x01, J=self.J, wave=self.wave, dwt_mode=self.dwt_mode)
        energy = hf_energy_from_details(coeffs[1][0])
        region = hf_region(energy, self.hf_ratio)

        if self.use_lf_drop:
            x_hf01 = low_frequency_drop(
                x01,
                region,
                step=self.quant_step,
                alpha=self.alpha,
                quant_mode=self.quant_mode,
                J=self.J,
                wave=self.wave,
                dwt_mode=self.dwt_mode,
                coeffs=coeffs)
        else:
            x_hf01 = x01

        score_map = energy if self.ranking == 'energy' else region
        keep_idx = select_hf_patches(
            score_map,
            img_size=tuple(x01.shape[-2:]),
            patch_size=self.patch_size,
            stride=self.stride,
            keep_ratio=self.keep_ratio,
            ranking=self.ranking)
        return dict(
            energy=energy, region=region, x_hf01=x_hf01, keep_idx=keep_idx)

    def forward(self, x01: Tensor) -> Tuple[Tensor, Tensor]:
        """Make ``x_hf`` and pick the HF patches of a batch.

        Args:
            x01 (Tensor): Augmented images in the unit range,
                ``(B, 3, H, W)``.

        Returns:
            tuple[Tensor, Tensor]: ``x_hf01`` ``(B, 3, H, W)`` in the unit
            range and ``keep_idx`` ``(B, K)`` (long), in the order of
            :func:`~mmpha.models.utils.select_hf_patches`: raster order for
            ``'energy'``, the released code's order (marked patches, then
            fillers) for ``'release'``. The contrastive loss pairs tokens
            position by position, so the model keeps this order.
        """
        out = self.analyse(x01)
        return out['x_hf01'], out['keep_idx']

    def extra_repr(self) -> str:
        return (f'hf_ratio={self.hf_ratio}, keep_ratio={self.keep_ratio}, '
                f'quant_step={self.quant_step}, alpha={self.alpha}, '
                f'quant_mode={self.quant_mode}, wave={self.wave}, J={self.J}, '
                f'dwt_mode={self.dwt_mode}, ranking={self.ranking}, '
                f'use_lf_drop={self.use_lf_drop}, '
                f'patch_size={self.patch_size}, stride={self.stride}')


def _as_pair(value: IntPair) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return tuple(value)
