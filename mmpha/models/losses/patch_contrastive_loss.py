"""PHA's patch-wise contrastive loss (paper Sec. 3.3)."""
from typing import Literal, Optional, Tuple, get_args

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmpha.registry import MODELS
from mmpha.utils import pair_masks
from ..utils.cross_rank import gather_batch

Reduction = Literal['mean', 'sum', 'none']
REDUCTIONS: Tuple[str, ...] = get_args(Reduction)


def patch_contrastive_loss(u: Tensor,
                           v: Tensor,
                           labels: Tensor,
                           temperature: float = 1.0,
                           reduction: Reduction = 'mean') -> Tensor:
    """Patch-wise contrastive loss between two aligned token sets.

    For every token position ``t`` the similarity of sample ``i`` in ``u`` to
    sample ``j`` in ``v`` is ``s_t(i, j) = cos(u_t^i, v_t^j) / temperature``.
    The positives of ``i`` are the samples with its label (``i`` included),
    the negatives all others. With ``m+`` and ``m-`` the mean positive and
    mean negative similarity of ``(i, t)``::

        loss(i, t) = -log(e^{m+} / (e^{m+} + e^{m-})) = softplus(m- - m+)

    Positives come from ``labels`` only, so the value does not depend on the
    number of images per identity or on the order of the batch. A sample
    whose identity fills the whole batch has no negatives and is excluded
    from the average; if no sample has a negative the loss is 0 (still
    connected to the graph, so every input receives a zero gradient).

    Args:
        u (Tensor): Tokens of shape ``(B, T, C)`` (``B`` samples, ``T`` token
            positions, ``C`` channels).
        v (Tensor): Tokens of shape ``(B, T, C)``, position-aligned with
            ``u``.
        labels (Tensor): Identity labels of shape ``(B, )``.
        temperature (float): Divides the cosine similarities. Defaults to
            1.0.
        reduction (str): ``'mean'`` over the valid ``(i, t)``, ``'sum'``
            over them, or ``'none'`` for the ``(B, T)`` matrix (zero rows for
            samples without negatives). Defaults to ``'mean'``.

    Returns:
        Tensor: A scalar, or ``(B, T)`` with ``reduction='none'``.
    """
    if u.dim() != 3 or u.shape != v.shape:
        raise ValueError('u and v must both have shape (B, T, C), got '
                         f'{tuple(u.shape)} and {tuple(v.shape)}')
    if labels.dim() != 1 or labels.shape[0] != u.shape[0]:
        raise ValueError(f'labels must have shape ({u.shape[0]}, ), got '
                         f'{tuple(labels.shape)}')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    if reduction not in REDUCTIONS:
        raise ValueError(
            f'reduction must be one of {REDUCTIONS}, got {reduction!r}')

    u = F.normalize(u.float(), dim=-1)
    v = F.normalize(v.float(), dim=-1)
    # (T, B, B): similarity of every pair of samples at every position.
    sim = torch.einsum('itc,jtc->tij', u, v) / temperature
    pos = pair_masks(labels)[0].to(sim.dtype)
    neg = 1.0 - pos
    num_pos = pos.sum(dim=1)
    num_neg = neg.sum(dim=1)
    mean_pos = (sim * pos).sum(dim=-1) / num_pos
    mean_neg = (sim * neg).sum(dim=-1) / num_neg.clamp(min=1.0)
    # (B, T)
    loss = F.softplus(mean_neg - mean_pos).transpose(0, 1)
    valid = (num_neg > 0).to(loss.dtype).unsqueeze(1)
    loss = loss * valid

    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    count = valid.sum() * loss.shape[1]
    # Samples without negatives contribute 0 to the sum; dividing by at
    # least 1 returns that graph-connected 0 when none has negatives.
    return loss.sum() / count.clamp(min=1.0)


@MODELS.register_module()
class PatchContrastiveLoss(nn.Module):
    """Patch-wise contrastive loss of PHA, as a module.

    See :func:`patch_contrastive_loss` for the definition.

    Args:
        temperature (float): Divides the cosine similarities; the paper uses
            plain cosines (1.0). Defaults to 1.0.
        loss_weight (float): Multiplies the loss. Defaults to 1.0.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``. Defaults to
            ``'mean'``.
        gather_across_ranks (bool): Under DDP, contrast against the global
            batch: the tokens and labels of every rank are gathered
            (gradients reach this rank's slice, see
            :mod:`mmpha.models.utils.cross_rank`) and the loss of the
            gathered batch, the same on every rank, is returned. No effect
            with one process. :class:`PHA`'s ``cross_rank_batch`` sets it.
            Defaults to False.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 loss_weight: float = 1.0,
                 reduction: Reduction = 'mean',
                 gather_across_ranks: bool = False) -> None:
        super().__init__()
        if not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ValueError(
                f'temperature must be a number > 0, got {temperature!r}')
        if not isinstance(loss_weight, (int, float)) or loss_weight < 0:
            raise ValueError(
                f'loss_weight must be a number >= 0, got {loss_weight!r}')
        if reduction not in REDUCTIONS:
            raise ValueError(
                f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.gather_across_ranks = bool(gather_across_ranks)

    def forward(self,
                u: Tensor,
                v: Tensor,
                labels: Tensor,
                reduction_override: Optional[Reduction] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            u (Tensor): Tokens ``(B, T, C)``.
            v (Tensor): Tokens ``(B, T, C)`` aligned with ``u``.
            labels (Tensor): Identity labels ``(B, )``.
            reduction_override (str, optional): Overrides ``reduction``.
                Defaults to None.

        Returns:
            Tensor: The loss times ``loss_weight``.
        """
        reduction = reduction_override or self.reduction
        if self.gather_across_ranks:
            u, v, labels = gather_batch(u, v, labels)
        return self.loss_weight * patch_contrastive_loss(
            u, v, labels, temperature=self.temperature, reduction=reduction)

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, '
                f'loss_weight={self.loss_weight}, reduction={self.reduction}, '
                f'gather_across_ranks={self.gather_across_ranks}')
