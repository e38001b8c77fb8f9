"""Index helpers of the vectorised ranking and re-ranking."""
from typing import List, Tuple

import torch
from torch import Tensor


def segment_indices(starts: Tensor, lengths: Tensor) -> Tensor:
    """Concatenate the index ranges ``[starts[i], starts[i] + lengths[i])``.

    Args:
        starts (Tensor): ``(S, )`` int64 first index of each range.
        lengths (Tensor): ``(S, )`` int64 non-negative range lengths.

    Returns:
        Tensor: ``(sum(lengths), )`` int64 indices, range after range.
    """
    total = int(lengths.sum())
    offsets = lengths.cumsum(0) - lengths
    within = torch.arange(
        total, device=starts.device) - torch.repeat_interleave(
            offsets, lengths, output_size=total)
    return torch.repeat_interleave(starts, lengths, output_size=total) + within


def budget_batches(counts: Tensor, budget: int) -> List[Tuple[int, int]]:
    """Split items into consecutive batches of at most ``budget`` work.

    Item ``i`` costs ``counts[i]`` (e.g. the index pairs it expands to); a
    batch ``[lo, hi)`` holds at most ``budget`` of that in total, unless a
    single item costs more on its own. Empty batches are left out.

    Args:
        counts (Tensor): ``(S, )`` int64 non-negative costs.
        budget (int): Work per batch, ``>= 1``.

    Returns:
        list[tuple[int, int]]: The ``(lo, hi)`` item ranges, in order.
    """
    cum = counts.cumsum(0)
    total = int(cum[-1]) if cum.numel() else 0
    limits = torch.arange(
        budget, max(total, budget), budget, device=counts.device)
    bounds = torch.searchsorted(cum, limits, right=True).tolist()
    return [(lo, hi) for lo, hi in zip([0] + bounds, bounds + [counts.numel()])
            if hi > lo]
