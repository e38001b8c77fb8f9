"""Index helpers of the vectorised ranking and re-ranking."""
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
