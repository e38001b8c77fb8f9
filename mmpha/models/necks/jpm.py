"""TransReID's jigsaw patch module (He et al., ICCV 2021, Sec. 3.3)."""
import copy
from typing import List, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmpha.registry import MODELS
from mmpha.utils import check_positive_int
from ..utils.checks import check_non_negative_int


def jpm_rearrange(patches: torch.Tensor, shift: int,
                  groups: int) -> torch.Tensor:
    """Shift and patch-shuffle operations of the jigsaw patch module.

    The first ``shift`` patch tokens move to the end of the sequence; the
    sequence is then cut into ``groups`` equal chunks that are interleaved
    (token ``i`` of every chunk, then token ``i + 1`` ...), so that each of
    the later contiguous parts gathers patches from all over the image.
    When N is not a multiple of ``groups`` the last tokens of the shifted
    sequence are repeated to fill the chunks.

    Args:
        patches (torch.Tensor): ``(B, N, C)`` patch tokens (no class token).
        shift (int): Number of tokens moved to the end, ``0 <= shift``.
        groups (int): Number of shuffle chunks, ``>= 1``.

    Returns:
        torch.Tensor: ``(B, N', C)`` rearranged tokens, ``N'`` the smallest
        multiple of ``groups`` that is ``>= N``.

    Note:
        TransReID's released ``shuffle_unit`` moves ``shift - 1`` tokens (its
        slice starts at ``begin - 1 + shift`` of a sequence that still holds
        the class token); this function moves ``shift``, as the paper states.
    """
    num = patches.shape[1]
    # An explicit ``dims`` keeps the roll exportable to ONNX.
    index = torch.roll(
        torch.arange(num, device=patches.device), -(shift % num), dims=0)
    pad = (-num) % groups
    if pad:
        index = torch.cat([index, index[-pad:]])
    index = index.view(groups, -1).t().reshape(-1)
    return patches[:, index]


@MODELS.register_module()
class JPM(BaseModule):
    """The jigsaw patch module: local features from shuffled patch groups.

    It owns one copy of a token backbone's last block + final norm, made by
    :meth:`copy_from`. The patch tokens after the shared blocks (the
    backbone's ``tokens``, see :mod:`mmpha.models.backbones.contract`) are
    shifted and shuffled (:func:`jpm_rearrange`), cut into ``num_parts``
    contiguous parts of ``N // num_parts`` tokens (a remainder is dropped,
    as in TransReID), and each part, with the class token prepended, goes
    through the copy; its class token is a local feature.

    The copy needs a backbone with ``blocks`` (the last one is copied) and
    ``ln1`` (the final norm), such as :class:`~mmpha.models.TransReIDViT`.

    Args:
        num_parts (int): Number of local parts P. Defaults to 4.
        shift (int): Tokens moved by the shift operation. Defaults to 5.
            The value travels with the weights: it is saved as the buffer
            ``jpm_shift``, and a checkpoint that holds one sets the shift
            the weights were trained with (logged when it differs from the
            config), so a converted release checkpoint (which moves
            ``SHIFT_NUM - 1`` tokens) runs as it was trained in any config.
            A checkpoint without the buffer keeps the config's shift.
        shuffle_groups (int): Chunks of the patch shuffle. Defaults to 2.
        rearrange (bool): Shift and shuffle before cutting the parts; False
            cuts the raw raster sequence. Defaults to True.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_parts: int = 4,
                 shift: int = 5,
                 shuffle_groups: int = 2,
                 rearrange: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_positive_int(num_parts, 'num_parts')
        check_positive_int(shuffle_groups, 'shuffle_groups')
        # A shift of 0 is valid (no shift).
        check_non_negative_int(shift, 'shift')
        if not isinstance(rearrange, bool):
            raise TypeError(f'rearrange must be a bool, got {rearrange!r}')
        self.num_parts = num_parts
        self.shift = shift
        self.shuffle_groups = shuffle_groups
        self.rearrange = rearrange
        # Filled by copy_from(); None until then.
        self.block: Optional[nn.Module] = None
        self.norm: Optional[nn.Module] = None
        self.register_buffer('jpm_shift', torch.tensor(shift))

    @staticmethod
    def _templates(backbone: nn.Module):
        blocks = getattr(backbone, 'blocks', None)
        norm = getattr(backbone, 'ln1', None)
        if blocks is None or norm is None or not len(blocks):
            raise ValueError(
                f'JPM copies the last block and final norm of a token '
                f'backbone (blocks, ln1), but {type(backbone).__name__} has '
                'none: remove jpm from the model config')
        return blocks[-1], norm

    def copy_from(self, backbone: nn.Module) -> None:
        """Create the branch as deep copies of the backbone's last block and
        final norm.

        Args:
            backbone (nn.Module): A token backbone with ``blocks`` and
                ``ln1``.

        Raises:
            ValueError: If the backbone projects its global feature to
                another width (``out_channels``, CLIPViT after proj): the
                JPM features would not match it.
        """
        out_channels = getattr(backbone, 'out_channels', None)
        if out_channels not in (None, getattr(backbone, 'embed_dims', None)):
            raise ValueError(
                f'JPM needs the global feature at the token width '
                f'{backbone.embed_dims}, but the backbone projects it to '
                f'{out_channels}: set reid_feature=\'before_proj\' or '
                'remove jpm')
        block, norm = self._templates(backbone)
        self.block = copy.deepcopy(block)
        self.norm = copy.deepcopy(norm)

    def sync_from(self, backbone: nn.Module) -> None:
        """Copy the backbone's current last block + norm weights, in place.

        Called after the backbone loaded pretrained weights; in place, since
        the optimizer may already hold the JPM parameters.

        Args:
            backbone (nn.Module): The backbone given to :meth:`copy_from`.

        Raises:
            RuntimeError: If :meth:`copy_from` has not been called.
        """
        if self.block is None:
            raise RuntimeError('sync_from() before copy_from(): the JPM '
                               'branch does not exist yet')
        block, norm = self._templates(backbone)
        self.block.load_state_dict(block.state_dict())
        self.norm.load_state_dict(norm.state_dict())

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Take the JPM shift that a checkpoint's weights were trained with.

        A checkpoint saved before the shift was stored gets the config's.
        """
        key = prefix + 'jpm_shift'
        if key not in state_dict:
            state_dict[key] = self.jpm_shift.clone()
        else:
            shift = int(state_dict[key])
            if shift != self.shift:
                print_log(
                    f'{prefix}jpm_shift: the checkpoint was trained with a '
                    f'JPM shift of {shift}, the config says {self.shift}; '
                    f'using {shift}',
                    logger='current')
                self.shift = shift
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, tokens: torch.Tensor) -> List[torch.Tensor]:
        """Local features.

        All parts of all images go through the copied block in one batch of
        ``B * P`` sequences.

        Args:
            tokens (torch.Tensor): ``(B, 1 + N, C)`` output of the shared
                blocks, class token first.

        Returns:
            list[torch.Tensor]: ``num_parts`` tensors ``(B, C)``.

        Raises:
            RuntimeError: If :meth:`copy_from` has not been called.
            ValueError: If there are fewer patch tokens than parts.
        """
        if self.block is None:
            raise RuntimeError('the JPM branch does not exist: call '
                               'copy_from(backbone) (ReIDModel does it)')
        batch, length, channels = tokens.shape
        num_patches = length - 1
        part_len = num_patches // self.num_parts
        if part_len == 0:
            raise ValueError(f'{num_patches} patch tokens cannot be cut into '
                             f'num_parts={self.num_parts} parts')
        cls_token, patches = tokens[:, :1], tokens[:, 1:]
        if self.rearrange:
            patches = jpm_rearrange(patches, self.shift, self.shuffle_groups)
        parts = patches[:, :part_len *
                        self.num_parts].reshape(batch * self.num_parts,
                                                part_len, channels)
        cls_token = cls_token.repeat_interleave(self.num_parts, dim=0)
        out = self.norm(self.block(torch.cat([cls_token, parts], 1)))
        return list(out[:, 0].reshape(batch, self.num_parts, -1).unbind(1))

    def extra_repr(self) -> str:
        """Options shown by ``print(module)``."""
        return (f'num_parts={self.num_parts}, shift={self.shift}, '
                f'shuffle_groups={self.shuffle_groups}, '
                f'rearrange={self.rearrange}')
