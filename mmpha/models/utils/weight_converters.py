"""Reading ImageNet ViT weights of the formats users have into mmpha's ViT.

Supported files:

- timm / JAX-converted ViT checkpoints (``jx_vit_base_p16_224-80ecf9dd.pth``,
  ``model.safetensors`` of the ``timm/vit_*`` models, augreg weights), whose
  keys are timm's (``blocks.0.attn.qkv.weight``, ``norm.weight``, ...);
- DeiT checkpoints from the DeiT release (timm keys under ``'model'``),
  including distilled ones (the distillation token is dropped);
- mmpretrain checkpoints (``'state_dict'`` with ``backbone.`` prefixed
  mmpretrain keys) and bare mmpretrain backbone state dicts.

``.safetensors`` files are read with :func:`safetensors.torch.load_file`;
everything else with ``torch.load(weights_only=True)`` (through
:func:`mmpha.utils.checkpoint.load_local_checkpoint`), so a weight file can
never run code.
"""
import logging
import math
import os.path as osp
import re
from typing import Dict, List, Literal, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader
from mmpretrain.models.utils import resize_pos_embed
from torch import nn

from mmpha.utils.checkpoint import load_local_checkpoint

StateDict = Dict[str, torch.Tensor]

# timm name -> mmpretrain name, applied to the part after ``blocks.{i}.``.
_TIMM_BLOCK_KEYS = (
    ('norm1.', 'ln1.'),
    ('norm2.', 'ln2.'),
    ('attn.qkv.', 'attn.qkv.'),
    ('attn.proj.', 'attn.proj.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
    ('ls1.gamma', 'attn.gamma1.weight'),
    ('ls2.gamma', 'ffn.gamma2.weight'),
)
# Classifier and distillation heads; a re-ID backbone has no use for them.
_DROPPED_PREFIXES = ('head.', 'head_dist.', 'pre_logits.', 'fc_norm.')


def load_weights_file(path: str, map_location: str = 'cpu') -> dict:
    """Read a weight file without unpickling arbitrary objects.

    Args:
        path (str): A local ``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors``
            file, or an ``http(s)://`` URL understood by MMEngine.
        map_location (str): Device of the loaded tensors. Defaults to
            ``'cpu'``.

    Returns:
        dict: The file's content (a state dict, or a dict holding one).

    Raises:
        FileNotFoundError: If a local file does not exist.
    """
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        if not osp.isfile(osp.expanduser(path)):
            raise FileNotFoundError(f'weight file "{path}" does not exist')
        return load_file(osp.expanduser(path), device=map_location)
    if re.match(r'^[a-z]+://', path):
        return CheckpointLoader.load_checkpoint(
            path, map_location=map_location)
    return load_local_checkpoint(path, map_location=map_location)


def extract_state_dict(checkpoint: Mapping) -> StateDict:
    """Return the state dict held by a loaded checkpoint.

    Args:
        checkpoint (Mapping): What :func:`load_weights_file` returned. The
            state dict is looked for under ``'state_dict'`` (MMEngine),
            ``'model'`` (DeiT, many release scripts) and ``'module'``, in that
            order; otherwise the mapping itself is taken as the state dict.

    Returns:
        dict[str, torch.Tensor]: Parameter name to tensor, with a leading
        ``module.`` (from a DDP-wrapped model) removed.

    Raises:
        TypeError: If no mapping of tensors is found.
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f'a checkpoint must be a dict, got '
                        f'{type(checkpoint).__name__}')
    state_dict = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), Mapping):
            state_dict = checkpoint[key]
            break
    tensors = {
        re.sub(r'^module\.', '', k): v
        for k, v in state_dict.items() if isinstance(v, torch.Tensor)
    }
    if not tensors:
        raise TypeError('the checkpoint holds no tensors under "state_dict", '
                        f'"model", "module" or at the top level (keys: '
                        f'{list(checkpoint)[:10]})')
    return tensors


def detect_vit_format(
    state_dict: Mapping[str, torch.Tensor]
) -> Literal['timm', 'mmpretrain', 'mmpretrain-classifier']:
    """Tell which library's key names a ViT state dict uses.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The parameters.

    Returns:
        str: ``'timm'`` (``blocks.N.`` keys, also DeiT and JAX-converted
        files), ``'mmpretrain-classifier'`` (``backbone.layers.N.``) or
        ``'mmpretrain'`` (``layers.N.``, a bare backbone or mmpha's own).

    Raises:
        ValueError: If the keys match none of the formats.
    """
    keys = list(state_dict)
    if any(k.startswith('backbone.') for k in keys):
        return 'mmpretrain-classifier'
    if any(k.startswith('blocks.') for k in keys):
        return 'timm'
    if any(k.startswith('layers.') for k in keys):
        return 'mmpretrain'
    raise ValueError(
        'cannot tell the format of the ViT state dict: expected timm keys '
        '("blocks.0. ..."), mmpretrain backbone keys ("layers.0. ...") or '
        f'mmpretrain classifier keys ("backbone.layers.0. ..."), got '
        f'{keys[:8]}')


ReleaseLayout = Literal['transreid', 'transreid-jpm', 'pha']


def detect_release_layout(state_dict: Mapping[str, torch.Tensor]
                          ) -> Optional[ReleaseLayout]:
    """Tell whether a state dict was saved by the released TransReID / PHA
    code, and by which of its ViT models.

    Args:
        state_dict (Mapping[str, torch.Tensor]): Parameters, without a
            ``module.`` prefix (see :func:`extract_state_dict`).

    Returns:
        str | None: ``'transreid'`` (TransReID's ``build_transformer``, JPM
        off: ``base.*``, ``bottleneck``, ``classifier``),
        ``'transreid-jpm'`` (``build_transformer_local``: also ``b1.*``,
        ``b2.*``), ``'pha'`` (PHA's ``build_transformer_local``:
        ``b1_block``, ``b2_block``, ``bottleneck_mask``, ...), or None for
        anything else (an ImageNet ViT, an mmpha checkpoint, a ResNet).
    """
    keys = list(state_dict)
    if not ('base.pos_embed' in state_dict
            and any(k.startswith('base.blocks.') for k in keys)):
        return None
    if any(k.startswith(('backbone.', 'head.')) for k in keys):
        return None
    if any(k.startswith('b1_block.') for k in keys):
        return 'pha'
    if any(k.startswith('b1.') for k in keys):
        return 'transreid-jpm'
    return 'transreid'


def timm_block_key(name: str) -> Optional[str]:
    """mmpretrain's name of a parameter inside one timm ViT block.

    Args:
        name (str): The name after ``blocks.{i}.``, e.g. ``'mlp.fc1.weight'``.

    Returns:
        str | None: The name after ``layers.{i}.`` in mmpretrain's
        ``TransformerEncoderLayer`` (``'ffn.layers.0.0.weight'``), or None
        when the name is not one of a timm block's.
    """
    for old, new in _TIMM_BLOCK_KEYS:
        if name.startswith(old):
            return new + name[len(old):]
    return None


def timm_to_mmpretrain_vit(state_dict: Mapping[str,
                                               torch.Tensor]) -> StateDict:
    """Rename timm ViT parameters to mmpretrain's ``VisionTransformer``.

    Args:
        state_dict (Mapping[str, torch.Tensor]): timm-named parameters.

    Returns:
        dict[str, torch.Tensor]: The same tensors under mmpretrain names.
        Classifier heads are dropped; keys without an mmpretrain counterpart
        are kept unchanged, so that loading reports them as unexpected.
    """
    converted = {}
    for key, value in state_dict.items():
        if key.startswith(_DROPPED_PREFIXES):
            continue
        new_key = key
        if key.startswith('patch_embed.proj.'):
            new_key = key.replace('patch_embed.proj.',
                                  'patch_embed.projection.')
        elif key.startswith('norm.'):
            new_key = 'ln1.' + key[len('norm.'):]
        else:
            match = re.match(r'^blocks\.(\d+)\.(.*)$', key)
            if match:
                index, rest = match.groups()
                new_key = f'layers.{index}.{timm_block_key(rest) or rest}'
        converted[new_key] = value
    return converted


def convert_vit_checkpoint(checkpoint: Mapping,
                           prefix: Optional[str] = None) -> StateDict:
    """Turn any supported ViT checkpoint into mmpha backbone keys.

    Args:
        checkpoint (Mapping): A loaded checkpoint (see
            :func:`extract_state_dict`).
        prefix (str, optional): Keep only the keys starting with it, with the
            prefix removed (e.g. ``'backbone.'`` for a whole mmpha model).
            When None, an mmpretrain classifier's ``backbone.`` prefix is
            detected and removed. Defaults to None.

    Returns:
        dict[str, torch.Tensor]: Parameters named like
        :class:`mmpha.models.TransReIDViT`'s. A distillation token (DeiT
        distilled) is removed together with its position-embedding row; a
        ``(num_sie, 1, C)`` SIE table becomes ``(num_sie, C)``. A whole
        checkpoint of the released TransReID / PHA code is not a ViT
        checkpoint: read it with
        :func:`~mmpha.models.utils.release_converters.release_backbone_state_dict`
        (``TransReIDViT.load_pretrained`` does), which takes the last block
        from the branch the release runs.

    Raises:
        ValueError: If ``prefix`` is given for a released TransReID / PHA
            checkpoint (its ``base.`` part holds a dead last block).
    """
    state_dict = extract_state_dict(checkpoint)
    layout = detect_release_layout(state_dict)
    if layout is not None:
        raise ValueError(
            f'this is a whole checkpoint of the released TransReID / PHA '
            f'code ({layout} layout), not a ViT checkpoint: its base. part '
            'holds a last block and norm that the release never runs. Load '
            'it without a prefix through TransReIDViT.load_pretrained, or '
            'convert it with release_backbone_state_dict / '
            'tools/model_converters/transreid2mmpha.py')
    if prefix:
        state_dict = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        if not state_dict:
            raise ValueError(f'no key of the checkpoint starts with the '
                             f'prefix "{prefix}"')
    fmt = detect_vit_format(state_dict)
    if fmt == 'mmpretrain-classifier':
        state_dict = {
            k[len('backbone.'):]: v
            for k, v in state_dict.items() if k.startswith('backbone.')
        }
    elif fmt == 'timm':
        state_dict = timm_to_mmpretrain_vit(state_dict)

    sie_embed = state_dict.get('sie_embed')
    if sie_embed is not None and sie_embed.dim() == 3:
        # The released TransReID stores SIE as (num_sie, 1, C).
        state_dict['sie_embed'] = sie_embed.flatten(1)

    if 'dist_token' in state_dict:
        state_dict.pop('dist_token')
        pos_embed = state_dict.get('pos_embed')
        if pos_embed is not None:
            # Row 0 is the class token, row 1 the distillation token.
            state_dict['pos_embed'] = torch.cat(
                [pos_embed[:, :1], pos_embed[:, 2:]], dim=1)
        print_log(
            'Dropped the distillation token of the checkpoint.',
            logger='current')
    return state_dict


def square_grid(num_patches: int) -> Tuple[int, int]:
    """The square patch grid of a position embedding.

    Args:
        num_patches (int): Number of patch rows of the embedding.

    Returns:
        tuple[int, int]: ``(s, s)`` with ``s * s == num_patches``.

    Raises:
        ValueError: If ``num_patches`` is not a perfect square.
    """
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(
            f'cannot infer the patch grid of a position embedding with '
            f'{num_patches} patch tokens: it is not square. Give the source '
            'grid explicitly.')
    return side, side


def resize_pos_embed_to_grid(pos_embed: torch.Tensor,
                             dst_grid: Sequence[int],
                             src_grid: Optional[Sequence[int]] = None,
                             num_extra_tokens: int = 1,
                             mode: str = 'bilinear') -> torch.Tensor:
    """Resize a ViT position embedding to another patch grid.

    The extra (class) token rows are kept as they are; the patch rows are
    interpolated as an image (``align_corners=False``), as TransReID does
    when it puts ImageNet's 14x14 embedding onto its 21x10 grid.

    Args:
        pos_embed (torch.Tensor): ``(1, E + Hs * Ws, C)`` embedding, E extra
            tokens, ``(Hs, Ws)`` the source grid, C channels.
        dst_grid (Sequence[int]): Target grid ``(Hd, Wd)``.
        src_grid (Sequence[int], optional): Source grid; inferred as square
            when None. Defaults to None.
        num_extra_tokens (int): Leading rows that are not patches.
            Defaults to 1.
        mode (str): Interpolation mode of :func:`torch.nn.functional.
            interpolate`. Defaults to ``'bilinear'``.

    Returns:
        torch.Tensor: ``(1, E + Hd * Wd, C)``.

    Raises:
        ValueError: If the embedding's length does not match the grid.
    """
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f'pos_embed must be (1, L, C), got shape '
                         f'{tuple(pos_embed.shape)}')
    num_patches = pos_embed.shape[1] - num_extra_tokens
    if src_grid is None:
        src_grid = square_grid(num_patches)
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if src_grid[0] * src_grid[1] != num_patches:
        raise ValueError(f'pos_embed has {num_patches} patch tokens, which '
                         f'does not match the source grid {src_grid}')
    return resize_pos_embed(
        pos_embed,
        src_grid,
        dst_grid,
        mode=mode,
        num_extra_tokens=num_extra_tokens)


def load_matching_shapes(module: nn.Module, state_dict: StateDict
                         ) -> Tuple[List[str], List[str], List[str]]:
    """Load the tensors whose shape matches the module's; log the rest.

    Tensors of a shape other than the module's are left out (not an error:
    a classifier for another number of ids, a grid that could not be
    resized); keys missing from ``state_dict`` keep their initial value.

    Args:
        module (nn.Module): The model part to load into.
        state_dict (dict[str, Tensor]): Keys in ``module``'s naming;
            mismatched tensors are removed from it.

    Returns:
        tuple[list[str], list[str], list[str]]: Missing keys, unexpected
        keys, and the skipped ones as ``'key: checkpoint (..) vs model
        (..)'`` lines.
    """
    own = module.state_dict()
    skipped = []
    for key in list(state_dict):
        if key in own and state_dict[key].shape != own[key].shape:
            skipped.append(f'{key}: checkpoint '
                           f'{tuple(state_dict[key].shape)} vs model '
                           f'{tuple(own[key].shape)}')
            state_dict.pop(key)
    missing, unexpected = module.load_state_dict(state_dict, strict=False)
    if missing:
        print_log(
            'Keys not in the checkpoint, kept at their initial value: '
            f'{missing}',
            logger='current')
    if unexpected:
        print_log(
            'Keys of the checkpoint unknown to the model, ignored: '
            f'{unexpected}',
            logger='current',
            level=logging.WARNING)
    if skipped:
        print_log(
            f'Checkpoint tensors of the wrong shape, not loaded: {skipped}',
            logger='current',
            level=logging.WARNING)
    return list(missing), list(unexpected), skipped
