"""Layer-wise learning-rate decay for the re-ID ViTs (Bao et al., BEiT,
ICLR 2022, Sec. 2.6; used when fine-tuning self-supervised ViTs)."""
from functools import partial
from typing import Callable, List, Optional, Tuple

import torch.nn as nn
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor

from mmpha.registry import OPTIM_WRAPPER_CONSTRUCTORS

# Backbone parameters that live before the first block.
_STEM = ('cls_token', 'pos_embed', 'sie_embed', 'patch_embed.', 'pre_norm.')


def reid_layer_depth(param_name: str, num_layers: int) -> Tuple[int, int]:
    """Depth of a :class:`~mmpha.models.ReIDModel` parameter.

    Depth 0 is the stem (patch embedding, class token, position and SIE
    embeddings, CLIP's ``ln_pre``), depth ``i + 1`` block ``i``; JPM's copy
    of the last block has that block's depth; the final norm, ``proj``,
    necks and heads have the top depth ``num_layers + 1``.

    Args:
        param_name (str): Name in ``model.named_parameters()``, e.g.
            ``'backbone.layers.3.attn.qkv.weight'``.
        num_layers (int): L, the backbone's number of blocks.

    Returns:
        tuple[int, int]: ``(depth, L + 2)``; the lr scale is
        ``rate ** (L + 2 - depth - 1)``.
    """
    total = num_layers + 2
    if param_name.startswith('backbone.'):
        name = param_name[len('backbone.'):]
        if name.startswith(_STEM):
            return 0, total
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, total
    elif param_name.startswith('jpm.block.'):
        return num_layers, total
    return total - 1, total


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ReIDLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-decay constructor for :class:`ReIDModel`.

    mmpretrain's constructor asks the model for ``get_layer_depth``, which
    its classifiers have and :class:`ReIDModel` has not; this one supplies
    :func:`reid_layer_depth` (SIE and ``pre_norm`` in the stem, JPM's block
    at the last block's depth). ``paramwise_cfg`` is mmpretrain's
    (``layer_decay_rate``, ``norm_decay_mult``, ``flat_decay_mult``,
    ``bias_decay_mult``, ``custom_keys`` with ``decay_mult``); in addition
    a custom key's ``lr_mult`` multiplies the decayed lr (mmpretrain ignores
    it), so TransReID's ``{'bias': dict(lr_mult=2.0)}`` still applies.

    Example:
        >>> optim_wrapper = dict(
        ...     optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
        ...     constructor='ReIDLayerDecayOptimWrapperConstructor',
        ...     paramwise_cfg=dict(layer_decay_rate=0.65))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add the parameters of ``module`` with their decayed lr.

        Args:
            params (list[dict]): Parameter groups, extended in place.
            module (nn.Module): The model (a :class:`ReIDModel` at the top
                call).
            prefix (str): Name prefix of ``module``. Defaults to ``''``.
            get_layer_depth (Callable, optional): Depth function; the top
                call builds :func:`reid_layer_depth`. Defaults to None.

        Raises:
            ValueError: If the model has no block backbone
                (``backbone.layers``).
        """
        top = prefix == '' and get_layer_depth is None
        if top:
            layers = getattr(getattr(module, 'backbone', None), 'layers', None)
            if not isinstance(layers, nn.ModuleList):
                raise ValueError(
                    'ReIDLayerDecayOptimWrapperConstructor needs a model '
                    'whose backbone has transformer blocks '
                    f'(backbone.layers); {type(module).__name__} has none')
            get_layer_depth = partial(reid_layer_depth, num_layers=len(layers))
        super().add_params(params, module, prefix, get_layer_depth, **kwargs)
        if top:
            for group in params:
                lr_mult = group.pop('lr_mult', None)
                if lr_mult is not None:
                    group['lr'] *= lr_mult
