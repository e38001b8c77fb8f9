"""What a re-ID backbone returns to :class:`~mmpha.models.ReIDModel`.

The contract is small on purpose, so that any image backbone can be trained
by the shared model:

- ``global_feat`` ``(B, C)``: the feature that the global head (BNNeck,
  classifier, losses) sees; always present.
- ``tokens`` ``(B, 1 + N, C)``: for a token backbone, the sequence that
  enters the global branch's last stage (class token first, N patch tokens in
  raster order). Branches that re-run that stage on their own tokens (JPM)
  read it; None for a CNN.
- ``feature_map`` ``(B, C, H, W)``: for a CNN, the last stage's map before
  pooling; None for a token backbone.

A backbone meets the contract in one of two ways:

1. it has ``forward_reid(inputs, cam_ids=None, view_ids=None)`` returning a
   :class:`BackboneFeatures` (:class:`~mmpha.models.TransReIDViT`, which
   also uses the camera / view ids for SIE); or
2. it is a plain image backbone whose ``forward(inputs)`` returns a tensor
   ``(B, C, H, W)`` or a tuple of them (mmpretrain's ``ResNet``): the last
   map is ``feature_map`` and its global average ``global_feat``.

Its feature width C is ``out_channels`` when the backbone states one (a ViT
whose global feature is projected, :class:`~mmpha.models.CLIPViT`), else
``embed_dims`` (ViTs), else ``feat_dim`` (mmpretrain ResNets), see
:func:`backbone_channels`; ``camera_num`` / ``view_num``
(default 0) say whether it needs camera / view ids.
"""
from typing import NamedTuple, Optional

import torch
import torch.nn as nn


class BackboneFeatures(NamedTuple):
    """Features of one batch, as :class:`ReIDModel` consumes them.

    Fields: ``global_feat`` ``(B, C)``, the global feature; ``tokens``
    ``(B, 1 + N, C)``, the input of the last stage of a token backbone (None
    otherwise); ``feature_map`` ``(B, C, H, W)``, the last map of a CNN (None
    otherwise).
    """

    global_feat: torch.Tensor
    tokens: Optional[torch.Tensor] = None
    feature_map: Optional[torch.Tensor] = None


def backbone_channels(backbone: nn.Module) -> int:
    """Width C of a backbone's global feature.

    Args:
        backbone (nn.Module): The backbone.

    Returns:
        int: ``out_channels`` when the backbone has it, else
        ``embed_dims``, else ``feat_dim``.

    Raises:
        ValueError: If it has neither.
    """
    for name in ('out_channels', 'embed_dims', 'feat_dim'):
        value = getattr(backbone, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise ValueError(
        f'{type(backbone).__name__} states no feature width: a re-ID '
        'backbone needs an int embed_dims or feat_dim attribute')


def backbone_features(backbone: nn.Module,
                      inputs: torch.Tensor,
                      cam_ids: Optional[torch.Tensor] = None,
                      view_ids: Optional[torch.Tensor] = None
                      ) -> BackboneFeatures:
    """Run a backbone and return its features under the contract.

    Args:
        backbone (nn.Module): A backbone meeting the contract (module
            docstring).
        inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
        cam_ids (torch.Tensor, optional): ``(B, )`` camera ids, passed to
            ``forward_reid``. Defaults to None.
        view_ids (torch.Tensor, optional): ``(B, )`` view ids, passed to
            ``forward_reid``. Defaults to None.

    Returns:
        BackboneFeatures: ``global_feat`` and, when the backbone has them,
        ``tokens`` / ``feature_map``.

    Raises:
        TypeError: If a plain backbone returns something other than
            ``(B, C, H, W)`` maps.
    """
    forward_reid = getattr(backbone, 'forward_reid', None)
    if callable(forward_reid):
        return forward_reid(inputs, cam_ids, view_ids)
    out = backbone(inputs)
    if isinstance(out, (tuple, list)) and out:
        out = out[-1]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise TypeError(
            f'{type(backbone).__name__} returned '
            f'{getattr(out, "shape", type(out))}; a backbone without '
            'forward_reid must return (B, C, H, W) maps or a tuple of them')
    return BackboneFeatures(global_feat=out.mean(dim=(2, 3)), feature_map=out)
