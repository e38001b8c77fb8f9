"""Center loss (Wen et al., "A Discriminative Feature Learning Approach for
Deep Face Recognition", ECCV 2016, Eq. 2), as the re-ID "Bag of Tricks" (Luo
et al., CVPRW 2019, Sec. 3.6) adds it to the ID and triplet losses."""
from typing import Literal

import torch
import torch.nn as nn
from mmengine.dist import all_reduce

from mmpha.registry import MODELS
from mmpha.utils import check_positive_int


def center_loss(feats: torch.Tensor,
                labels: torch.Tensor,
                centers: torch.Tensor,
                reduction: Literal['mean', 'sum',
                                   'none'] = 'mean') -> torch.Tensor:
    """Squared distance of every feature to the center of its identity.

    ``l_i = ||x_i - c_{y_i}||^2``; the mean over the batch is BoT's value
    (Wen et al.'s Eq. 2 has an extra 1/2 and a sum).

    Args:
        feats (torch.Tensor): ``(B, C)`` features.
        labels (torch.Tensor): ``(B, )`` identities in ``[0, K)``.
        centers (torch.Tensor): ``(K, C)`` class centers.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
            Defaults to ``'mean'``.

    Returns:
        torch.Tensor: A scalar, or ``(B, )`` with ``'none'``.
    """
    per_sample = (feats - centers[labels]).pow(2).sum(dim=1)
    if reduction == 'none':
        return per_sample
    return per_sample.sum() if reduction == 'sum' else per_sample.mean()


@MODELS.register_module()
class CenterLoss(nn.Module):
    """Center loss with centers ``(num_classes, feat_dim)`` stepped by their
    own SGD, as BoT trains them.

    BoT learns the centers with a separate optimiser: plain SGD with lr
    ``center_lr`` (0.5) on the gradient of the *unweighted* loss, while the
    features get the gradient of ``loss_weight`` times it through the
    model's optimiser. Here the centers are a buffer (saved in checkpoints,
    never seen by the model's optimiser, whatever its type) and every
    training forward takes that SGD step after computing the loss::

        c_j <- c_j - center_lr * dL/dc_j,
        dL/dc_j = 2 / B * sum_{i: y_i = j} (c_j - x_i)   (reduction 'mean')

    The step is averaged over the processes in distributed training, as
    DDP averages BoT's center gradients. Evaluation-mode forwards and
    ``center_lr=0`` leave the centers alone.

    Args:
        num_classes (int): K, number of training identities.
            :class:`~mmpha.models.ReIDHead` fills it.
        feat_dim (int): C, width of the features.
            :class:`~mmpha.models.ReIDHead` fills it.
        loss_weight (float): Multiplier of the loss (BoT's
            ``CENTER_LOSS_WEIGHT``). Defaults to 0.0005.
        center_lr (float): lr of the centers' SGD (BoT's ``CENTER_LR``).
            Defaults to 0.5.
        reduction (str): ``'mean'`` or ``'sum'``. Defaults to ``'mean'``.
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 loss_weight: float = 0.0005,
                 center_lr: float = 0.5,
                 reduction: Literal['mean', 'sum'] = 'mean') -> None:
        super().__init__()
        check_positive_int(num_classes, 'num_classes')
        check_positive_int(feat_dim, 'feat_dim')
        if not loss_weight > 0:
            raise ValueError(f'loss_weight must be > 0, got {loss_weight!r}')
        if not center_lr >= 0:
            raise ValueError(f'center_lr must be >= 0, got {center_lr!r}')
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum', got "
                             f'{reduction!r}')
        self.loss_weight = float(loss_weight)
        self.center_lr = float(center_lr)
        self.reduction = reduction
        # N(0, 1) as in BoT.
        self.register_buffer('centers', torch.randn(num_classes, feat_dim))

    @torch.no_grad()
    def step_centers(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """One SGD step of the centers on the unweighted loss.

        Args:
            feats (torch.Tensor): ``(B, C)`` features.
            labels (torch.Tensor): ``(B, )`` identities.
        """
        diff = self.centers[labels] - feats.detach().to(self.centers.dtype)
        grad = torch.zeros_like(self.centers).index_add_(0, labels, diff)
        grad *= 2.0 / feats.shape[0] if self.reduction == 'mean' else 2.0
        all_reduce(grad, op='mean')
        self.centers.sub_(self.center_lr * grad)

    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Weighted center loss; in training, then step the centers.

        Args:
            feats (torch.Tensor): ``(B, C)`` features (before the BNNeck in
                BoT).
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            torch.Tensor: ``loss_weight`` times :func:`center_loss` with the
            centers before the step.

        Raises:
            ValueError: If the feature width is not ``feat_dim``.
        """
        if feats.dim() != 2 or feats.shape[1] != self.centers.shape[1]:
            raise ValueError(
                f'CenterLoss expects (B, {self.centers.shape[1]}) features, '
                f'got {tuple(feats.shape)}')
        loss = center_loss(feats, labels, self.centers.to(feats.dtype),
                           self.reduction)
        if self.training and self.center_lr > 0:
            self.step_centers(feats, labels)
        return self.loss_weight * loss
