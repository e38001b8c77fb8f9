"""Center loss (Wen et al., "A Discriminative Feature Learning Approach for
Deep Face Recognition", ECCV 2016, Eq. 2), as the re-ID "Bag of Tricks" (Luo
et al., CVPRW 2019, Sec. 3.6) adds it to the ID and triplet losses."""
from typing import Literal

import torch
import torch.nn as nn

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
    """Center loss with learnable centers ``(num_classes, feat_dim)``.

    The centers are a parameter (``centers``, initialised N(0, 1) as in
    BoT), trained by the model's optimiser. BoT steps them with their own
    optimiser, on the gradient of the *unweighted* loss and with lr
    ``center_lr`` (0.5); here the gradient reaching the centers is divided
    by ``loss_weight`` (``decouple_center_grad``), so the centers see the
    unweighted gradient while the features see the weighted one, and a
    config gives the centers their lr with ``paramwise_cfg`` (``custom_keys
    ={'loss_center.centers': dict(lr_mult=center_lr / lr, decay_mult=0.)}``,
    see ``configs/_base_/recipes/center_loss.py``). With plain SGD this is
    BoT's center update; with another optimiser (BoT's Adam, SGD with
    momentum) the centers follow that optimiser's rule instead.

    Args:
        num_classes (int): K, number of training identities.
            :class:`~mmpha.models.ReIDHead` fills it.
        feat_dim (int): C, width of the features.
            :class:`~mmpha.models.ReIDHead` fills it.
        loss_weight (float): Multiplier of the loss (BoT's
            ``CENTER_LOSS_WEIGHT``). Defaults to 0.0005.
        decouple_center_grad (bool): Divide the centers' gradient by
            ``loss_weight``. Defaults to True.
        reduction (str): ``'mean'``, ``'sum'`` or ``'none'``.
            Defaults to ``'mean'``.
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 loss_weight: float = 0.0005,
                 decouple_center_grad: bool = True,
                 reduction: Literal['mean', 'sum', 'none'] = 'mean') -> None:
        super().__init__()
        check_positive_int(num_classes, 'num_classes')
        check_positive_int(feat_dim, 'feat_dim')
        if not loss_weight > 0:
            raise ValueError(f'loss_weight must be > 0, got {loss_weight!r}')
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', "
                             f'got {reduction!r}')
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))
        if decouple_center_grad:
            self.centers.register_hook(lambda grad: grad / self.loss_weight)

    def forward(self, feats: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Weighted center loss.

        Args:
            feats (torch.Tensor): ``(B, C)`` features (before the BNNeck in
                BoT).
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            torch.Tensor: ``loss_weight`` times :func:`center_loss`.

        Raises:
            ValueError: If the feature width is not ``feat_dim``.
        """
        if feats.dim() != 2 or feats.shape[1] != self.centers.shape[1]:
            raise ValueError(
                f'CenterLoss expects (B, {self.centers.shape[1]}) features, '
                f'got {tuple(feats.shape)}')
        return self.loss_weight * center_loss(
            feats, labels, self.centers.to(feats.dtype), self.reduction)
