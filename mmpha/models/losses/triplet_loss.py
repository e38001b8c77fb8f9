"""Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss
for Person Re-Identification", 2017), as used by TransReID."""
import warnings
from typing import Literal, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmpha.registry import MODELS
from mmpha.utils import pair_masks, pairwise_distance
from ..utils.cross_rank import gather_batch


def mine_triplets(dist: torch.Tensor,
                  labels: torch.Tensor,
                  hard_mining: bool = True
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Select a positive and a negative distance for every anchor.

    Args:
        dist (torch.Tensor): ``(B, B)`` pairwise distances.
        labels (torch.Tensor): ``(B, )`` integer identities, in any order and
            with any number of images per identity.
        hard_mining (bool): True: the farthest positive and the nearest
            negative (batch-hard). False: softmax-weighted averages of all
            positives (weights ``softmax(d)``) and all negatives (weights
            ``softmax(-d)``), as in "weighted triplet" mining. Defaults to
            True.

    Returns:
        tuple[torch.Tensor, torch.Tensor, torch.Tensor]: ``d_ap`` and ``d_an``
        of shape ``(B, )``, and ``valid`` of shape ``(B, )`` (bool): anchors
        that have at least one positive other than themselves and at least
        one negative. ``d_ap`` / ``d_an`` of invalid anchors are meaningless.
    """
    # An anchor is not its own positive: with K = 1 the "positive" distance
    # would be the clamp value instead of a real pair.
    pos_mask, neg_mask = pair_masks(labels, exclude_diagonal=True)
    valid = pos_mask.any(dim=1) & neg_mask.any(dim=1)

    if hard_mining:
        d_ap = dist.masked_fill(~pos_mask, float('-inf')).amax(dim=1)
        d_an = dist.masked_fill(~neg_mask, float('inf')).amin(dim=1)
    else:
        # Weights are a detached function of the distances, so that the
        # gradient flows through the distances only.
        weights_ap = torch.softmax(
            dist.detach().masked_fill(~pos_mask, float('-inf')), dim=1)
        weights_an = torch.softmax(
            (-dist.detach()).masked_fill(~neg_mask, float('-inf')), dim=1)
        d_ap = (weights_ap.nan_to_num(0.) * dist).sum(dim=1)
        d_an = (weights_an.nan_to_num(0.) * dist).sum(dim=1)
    return d_ap, d_an, valid


def triplet_loss(feats: torch.Tensor,
                 labels: torch.Tensor,
                 margin: Optional[float] = None,
                 normalize_feature: bool = False,
                 hard_mining: bool = True,
                 reduction: Literal['mean', 'sum',
                                    'none'] = 'mean') -> torch.Tensor:
    """Triplet loss with in-batch mining, vectorised with masks.

    For anchor ``i`` with positive distance ``d_ap`` and negative distance
    ``d_an`` (see :func:`mine_triplets`):

    - ``margin`` a float: ``max(0, d_ap - d_an + margin)``;
    - ``margin=None`` (soft margin): ``log(1 + exp(d_ap - d_an))``.

    Anchors without a positive other than themselves (their identity has one
    image in the batch) or without a negative (the batch holds one identity)
    form no triplet and are left out of the loss. If no anchor is left, the
    loss is a zero that is still connected to ``feats`` (so every parameter
    still receives a, zero, gradient) and a warning is issued: the batch was
    not sampled as P identities x K >= 2 images.

    Args:
        feats (torch.Tensor): ``(B, D)`` features.
        labels (torch.Tensor): ``(B, )`` integer identities.
        margin (float, optional): Margin of the hinge, or None for the soft
            margin. Defaults to None.
        normalize_feature (bool): L2-normalise the features first.
            Defaults to False.
        hard_mining (bool): Batch-hard mining if True, softmax-weighted
            mining otherwise (see :func:`mine_triplets`). Defaults to True.
        reduction (str): ``'mean'`` over the valid anchors, ``'sum'``, or
            ``'none'`` (a ``(B, )`` tensor with 0 at invalid anchors).
            Defaults to ``'mean'``.

    Returns:
        torch.Tensor: The loss, a scalar unless ``reduction='none'``.

    Raises:
        ValueError: If the shapes of ``feats`` and ``labels`` disagree, or
            ``reduction`` / ``margin`` is invalid.
    """
    if feats.dim() != 2:
        raise ValueError(
            f'feats must be (B, D), got shape {tuple(feats.shape)}.')
    if labels.dim() != 1 or labels.shape[0] != feats.shape[0]:
        raise ValueError(f'labels must be (B, ) with B = {feats.shape[0]}, '
                         f'got shape {tuple(labels.shape)}.')
    if reduction not in ('mean', 'sum', 'none'):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got "
                         f'{reduction!r}.')
    if margin is not None and margin < 0:
        raise ValueError(f'margin must be None or >= 0, got {margin}.')

    if normalize_feature:
        feats = F.normalize(feats, dim=1)
    # eps: the gradient of sqrt is infinite at 0 (every diagonal entry).
    dist = pairwise_distance(feats, eps=1e-12)
    d_ap, d_an, valid = mine_triplets(
        dist, labels.to(dist.device), hard_mining=hard_mining)

    if margin is None:
        per_anchor = F.softplus(d_ap - d_an)
    else:
        per_anchor = F.relu(d_ap - d_an + margin)
    # where() instead of indexing keeps invalid anchors' inf/nan out of the
    # gradient as well as out of the value.
    per_anchor = torch.where(valid, per_anchor, torch.zeros_like(per_anchor))

    if reduction == 'none':
        return per_anchor
    # The warning reads the labels on the host, so only when they are
    # there: on a GPU it would synchronise the training step. The value
    # needs no check (0 without valid anchors).
    if labels.device.type == 'cpu' and not bool(valid.any()):
        warnings.warn(
            'triplet_loss: no anchor in the batch has both a positive and a '
            f'negative (labels {labels.tolist()}); the loss is 0. Sample the '
            'batch as P identities x K >= 2 images.')
    if reduction == 'sum':
        return per_anchor.sum()
    return per_anchor.sum() / valid.sum().clamp(min=1)


@MODELS.register_module()
class TripletLoss(nn.Module):
    """Triplet loss with batch-hard (or weighted) mining.

    A thin module around :func:`triplet_loss` holding its options and a loss
    weight, following mmpretrain's losses.

    Args:
        margin (float, optional): Hinge margin, or None for the soft margin
            ``log(1 + exp(d_ap - d_an))`` that TransReID and PHA train with.
            Defaults to None.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        normalize_feature (bool): L2-normalise features before measuring
            distances. Defaults to False.
        hard_mining (bool): Batch-hard mining if True, softmax-weighted
            mining otherwise. Defaults to True.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
            Defaults to ``'mean'``.
        gather_across_ranks (bool): Under DDP, mine in the global batch:
            features and labels of every rank are gathered (gradients reach
            this rank's slice, see :mod:`mmpha.models.utils.cross_rank`)
            and the loss of the gathered batch, the same on every rank, is
            returned (``'none'``: one value per sample of the global
            batch). No effect with one process. :class:`ReIDModel`'s
            ``cross_rank_batch`` sets it. Defaults to False.
    """

    def __init__(self,
                 margin: Optional[float] = None,
                 loss_weight: float = 1.0,
                 normalize_feature: bool = False,
                 hard_mining: bool = True,
                 reduction: Literal['mean', 'sum', 'none'] = 'mean',
                 gather_across_ranks: bool = False) -> None:
        super().__init__()
        if margin is not None and (isinstance(margin, bool) or
                                   not isinstance(margin,
                                                  (int, float)) or margin < 0):
            raise ValueError(
                f'margin must be None (soft margin) or a float >= 0, got '
                f'{margin!r}.')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', "
                             f'got {reduction!r}.')
        self.margin = None if margin is None else float(margin)
        self.loss_weight = float(loss_weight)
        self.normalize_feature = normalize_feature
        self.hard_mining = hard_mining
        self.reduction = reduction
        self.gather_across_ranks = bool(gather_across_ranks)

    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Compute the weighted loss.

        Args:
            feats (torch.Tensor): ``(B, D)`` features.
            labels (torch.Tensor): ``(B, )`` integer identities.

        Returns:
            torch.Tensor: ``loss_weight`` times :func:`triplet_loss`.
        """
        if self.gather_across_ranks:
            feats, labels = gather_batch(feats, labels)
        return self.loss_weight * triplet_loss(
            feats,
            labels,
            margin=self.margin,
            normalize_feature=self.normalize_feature,
            hard_mining=self.hard_mining,
            reduction=self.reduction)

    def extra_repr(self) -> str:
        """Options shown by ``print(module)``."""
        return (f'margin={self.margin}, loss_weight={self.loss_weight}, '
                f'normalize_feature={self.normalize_feature}, '
                f'hard_mining={self.hard_mining}, '
                f'gather_across_ranks={self.gather_across_ranks}')
