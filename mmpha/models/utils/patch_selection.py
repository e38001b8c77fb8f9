"""High-frequency patch selection on a ViT patch grid (PHA, paper Sec. 3.2).

The patch grid is derived from the image size, the patch size and the stride
of the (possibly overlapping, unpadded) patch embedding, so nothing is tied
to 256x128 or to a 21x10 grid.

Symbols used in the shapes: ``B`` batch size, ``H x W`` image size, ``h x w``
size of the HF map, ``Hp x Wp`` patch grid, ``N = Hp * Wp`` patch tokens,
``K`` kept patches, ``C`` token width.
"""
from typing import Literal, Tuple, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from .patch_grid import IntPair, patch_grid_size
from .patch_grid import to_int_pair as _pair
from .wavelet import num_top

Ranking = Literal['energy', 'release']
RANKINGS: Tuple[str, ...] = get_args(Ranking)


def patch_scores(score_map: Tensor, img_size: IntPair, patch_size: IntPair,
                 stride: IntPair) -> Tensor:
    """Mean of a map over each patch's receptive field.

    The map (at DWT resolution, typically half the image) is brought to the
    image resolution by nearest-neighbour upsampling, which gives every image
    pixel the value of the DWT position that covers it, and then averaged
    with the patch embedding's own kernel and stride: each score is exactly
    the mean over the pixels that patch sees.

    Args:
        score_map (Tensor): Map of shape ``(B, h, w)`` (float or bool).
        img_size (int | tuple[int, int]): Image size ``(H, W)``.
        patch_size (int | tuple[int, int]): Patch size.
        stride (int | tuple[int, int]): Patch stride.

    Returns:
        Tensor: Scores of shape ``(B, Hp, Wp)``.
    """
    if score_map.dim() != 3:
        raise ValueError('score_map must have shape (B, h, w), got '
                         f'{tuple(score_map.shape)}')
    h, w = _pair(img_size, 'img_size')
    patch_grid_size((h, w), patch_size, stride)
    full = F.interpolate(
        score_map.unsqueeze(1).float(), size=(h, w), mode='nearest')
    return F.avg_pool2d(
        full,
        kernel_size=_pair(patch_size, 'patch_size'),
        stride=_pair(stride, 'stride')).squeeze(1)


def select_hf_patches(score_map: Tensor,
                      img_size: IntPair,
                      patch_size: IntPair,
                      stride: IntPair,
                      keep_ratio: float = 0.4,
                      ranking: Ranking = 'energy') -> Tensor:
    """Indices of the patches to keep for the HF token subsets, in order.

    Two rankings are offered:

    - ``'energy'`` (mmpha's default, the paper's top-k): every patch is
      scored by the mean of ``score_map`` over the pixels it sees
      (:func:`patch_scores`), and the ``K`` best patches are kept. With an
      energy map this keeps the patches with the most HF energy; with a bool
      HF region it keeps those with the largest HF fraction.
    - ``'release'`` (the paper's code): the HF region is resampled to the
      patch grid by nearest-neighbour interpolation (one pixel decides a
      whole patch) and the first ``K`` marked patches in raster order are
      kept, so lower-body patches drop out whenever more than ``K`` are
      marked. When fewer than ``K`` are marked, the first unmarked patches in
      raster order fill the remainder.

    ``K = floor(keep_ratio * N)`` (84 of 210), at least 1.

    The order of the indices is part of the method, not a detail: the
    patch-wise contrastive loss compares token ``t`` of one sample with
    token ``t`` of every other sample of the batch, so the order decides
    which patches are paired across samples.

    - ``'energy'`` returns each sample's kept patches in raster order
      (top-left to bottom-right). Token ``t`` of two samples then lies in
      the same part of the body whenever their HF patches are spread alike,
      and the order does not depend on how a top-k breaks ties between equal
      scores, which differs between devices and torch versions.
    - ``'release'`` returns the order of the released code: the marked
      patches first, in raster order, then the unmarked filler patches, in
      raster order. Sorting them into one raster order would pair other
      patches for every sample with fillers.

    Args:
        score_map (Tensor): HF energy ``(B, h, w)`` (float) or HF region
            ``(B, h, w)`` (bool). ``'release'`` needs the bool region.
        img_size (int | tuple[int, int]): Image size ``(H, W)``.
        patch_size (int | tuple[int, int]): Patch size of the embedding.
        stride (int | tuple[int, int]): Stride of the embedding.
        keep_ratio (float): Fraction of the ``N`` patches to keep, in
            ``(0, 1]``. Defaults to 0.4.
        ranking (str): ``'energy'`` or ``'release'``. Defaults to
            ``'energy'``.

    Returns:
        Tensor: LongTensor of shape ``(B, K)`` with indices into the
        ``N = Hp * Wp`` patch tokens (cls excluded), in the order described
        above.
    """
    if ranking not in RANKINGS:
        raise ValueError(f'ranking must be one of {RANKINGS}, got {ranking!r}')
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f'keep_ratio must be in (0, 1], got {keep_ratio}')
    if score_map.dim() != 3:
        raise ValueError('score_map must have shape (B, h, w), got '
                         f'{tuple(score_map.shape)}')
    grid = patch_grid_size(img_size, patch_size, stride)
    num_patches = grid[0] * grid[1]
    k = max(1, num_top(keep_ratio, num_patches))
    batch = score_map.shape[0]

    if ranking == 'energy':
        scores = patch_scores(score_map, img_size, patch_size, stride)
        keep = scores.reshape(batch, num_patches).topk(k, dim=1).indices
        return keep.sort(dim=1).values
    if score_map.dtype != torch.bool:
        raise TypeError("ranking='release' needs the bool HF region, "
                        f'got a {score_map.dtype} map')
    marked = F.interpolate(
        score_map.unsqueeze(1).float(), size=grid,
        mode='nearest').reshape(batch, num_patches) > 0
    order = torch.arange(num_patches, device=score_map.device)
    # Marked patches first, then the fillers, each group in raster order;
    # the keys are distinct, so the sort has no ties to break.
    key = (~marked).long() * num_patches + order
    return key.argsort(dim=1)[:, :k]


def gather_tokens(tokens: Tensor, idx: Tensor) -> Tensor:
    """Keep the cls token and the patch tokens at ``idx``.

    Each kept token carries whatever it already holds (its own position
    embedding included), so the subset is a sequence of the same tokens, not
    of re-embedded ones.

    Args:
        tokens (Tensor): Sequence ``(B, 1 + N, C)`` with the cls token first.
        idx (Tensor): Patch indices ``(B, K)`` into the ``N`` patch tokens.

    Returns:
        Tensor: ``(B, 1 + K, C)``, cls first, then the patches in ``idx``
        order.
    """
    if tokens.dim() != 3:
        raise ValueError('tokens must have shape (B, 1 + N, C), got '
                         f'{tuple(tokens.shape)}')
    if idx.dim() != 2 or idx.shape[0] != tokens.shape[0]:
        raise ValueError(f'idx must have shape (B={tokens.shape[0]}, K), '
                         f'got {tuple(idx.shape)}')
    if idx.dtype not in (torch.int64, torch.int32):
        raise TypeError(f'idx must be an integer tensor, got {idx.dtype}')
    patches = tokens[:, 1:].gather(
        1,
        idx.long().unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return torch.cat([tokens[:, :1], patches], dim=1)
