"""Cosine classifiers with an additive margin for the ID loss."""
import math
from typing import Literal, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmpha.registry import MODELS


@MODELS.register_module()
class MarginClassifier(nn.Module):
    """Cosine classifier with an additive margin on the target class.

    Logits are ``scale * cos(theta_j)`` between the L2-normalised feature and
    class weights; with labels, the target (and, for Circle, every) logit
    is changed by the margin:

    - ``'cosface'``: ``cos(theta_y) - m`` (Wang et al., CVPR 2018);
    - ``'arcface'``: ``cos(theta_y + m)``, with the usual linear fall-back
      when ``theta_y + m > pi`` (Deng et al., CVPR 2019);
    - ``'circle'``: ``a_p (cos - (1 - m))`` for the target and
      ``a_n (cos - m)`` for the others, ``a_p = [1 + m - cos]_+`` and
      ``a_n = [cos + m]_+`` detached (Sun et al., CVPR 2020).

    Args:
        in_channels (int): Feature width C.
        num_classes (int): Number of identities.
        margin_type (str): ``'cosface'``, ``'arcface'`` or ``'circle'``.
        scale (float): Logit scale s. Defaults to 30.0.
        margin (float): Margin m. Defaults to 0.35.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 margin_type: Literal['cosface', 'arcface', 'circle'],
                 scale: float = 30.0,
                 margin: float = 0.35) -> None:
        super().__init__()
        if margin_type not in ('cosface', 'arcface', 'circle'):
            raise ValueError(f"margin_type must be 'cosface', 'arcface' or "
                             f"'circle', got {margin_type!r}")
        if scale <= 0 or not 0 <= margin < 1:
            raise ValueError(f'scale must be > 0 and margin in [0, 1), got '
                             f'scale={scale}, margin={margin}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.margin_type = margin_type
        self.scale = float(scale)
        self.margin = float(margin)
        self.weight = nn.Parameter(torch.empty(num_classes, in_channels))
        nn.init.normal_(self.weight, std=0.001)

    def forward(self,
                x: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the logits.

        Args:
            x (torch.Tensor): ``(B, C)`` features.
            labels (torch.Tensor, optional): ``(B, )`` identities; the margin
                is applied only when given. Defaults to None.

        Returns:
            torch.Tensor: ``(B, num_classes)`` logits.
        """
        cos = F.linear(
            F.normalize(x.float()), F.normalize(self.weight.float()))
        if labels is None:
            return self.scale * cos
        target = F.one_hot(labels, self.num_classes).bool()
        m = self.margin
        if self.margin_type == 'cosface':
            logits = torch.where(target, cos - m, cos)
        elif self.margin_type == 'arcface':
            sin = (1 - cos.pow(2)).clamp(min=1e-7).sqrt()
            cos_plus_m = cos * math.cos(m) - sin * math.sin(m)
            # cos(theta + m) is not monotonic once theta + m > pi.
            cos_plus_m = torch.where(cos > math.cos(math.pi - m), cos_plus_m,
                                     cos - math.sin(math.pi - m) * m)
            logits = torch.where(target, cos_plus_m, cos)
        else:
            alpha_p = F.relu(1 + m - cos.detach())
            alpha_n = F.relu(cos.detach() + m)
            logits = torch.where(target, alpha_p * (cos - (1 - m)),
                                 alpha_n * (cos - m))
        return self.scale * logits

    def extra_repr(self) -> str:
        """Options shown by ``print(module)``."""
        return (f'{self.in_channels}, {self.num_classes}, '
                f'margin_type={self.margin_type}, scale={self.scale}, '
                f'margin={self.margin}')
