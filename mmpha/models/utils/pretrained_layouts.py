"""Reading person-pretrained, self-supervised and CLIP ViT weights, with a
report of where every source tensor went.

Layouts (``layout`` of :func:`convert_pretrained_checkpoint`):

- ``'vit'``: timm-style keys (``blocks.N.attn.qkv.weight``, ``norm.*``) at
  the top level or under ``'model'`` / ``'state_dict'`` / ``'module'``: the
  LUPerson / TransReID-SSL ViT-S and ViT-B files (``vit_small_cfs_lup.pth``,
  ``vit_base_cfs_lup.pth``, pretrained at 256x128, so their position
  embedding is a 16x8 grid), DINO's backbone-only files
  (``dino_deitsmall16_pretrain.pth``), timm / DeiT ImageNet files;
- ``'dino'``: a DINO training checkpoint with ``'teacher'`` / ``'student'``
  branches whose keys carry ``module.`` / ``backbone.`` prefixes; one branch
  is loaded (``dino_branch``), the other and the DINO head are reported as
  dropped;
- ``'mae'``: MAE encoders (timm keys under ``'model'``); a decoder and
  ``mask_token`` are dropped; a global-pool fine-tuned model has ``fc_norm``
  instead of ``norm``, see ``mae_fc_norm``;
- ``'clip'``: the image encoder of OpenAI CLIP (``visual.conv1.weight``,
  ``visual.transformer.resblocks.N...``, ``visual.proj``; the text tower is
  dropped), loadable into :class:`~mmpha.models.CLIPViT` only.

Every tensor of the selected weights is either mapped to a model key or
listed in :attr:`PretrainedReport.dropped` with the reason.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Dict, List, Literal, Mapping, Optional, Sequence, Tuple

import torch

from .weight_converters import (StateDict, resize_pos_embed_to_grid,
                                timm_block_key)

PretrainedLayout = Literal['auto', 'vit', 'dino', 'mae', 'clip']
PRETRAINED_LAYOUTS: Tuple[str, ...] = ('auto', 'vit', 'dino', 'mae', 'clip')
#: Keys of ``init_cfg=dict(type='Pretrained', ...)`` passed on to
#: :func:`convert_pretrained_checkpoint`.
PRETRAINED_OPTIONS: Tuple[str, ...] = ('layout', 'dino_branch', 'mae_fc_norm',
                                       'src_grid')

_CLASSIFIER_PREFIXES = ('head.', 'head_dist.', 'pre_logits.')
# OpenAI CLIP block names -> mmpretrain TransformerEncoderLayer names.
_CLIP_BLOCK_KEYS = (
    ('ln_1.', 'ln1.'),
    ('ln_2.', 'ln2.'),
    ('attn.in_proj_weight', 'attn.qkv.weight'),
    ('attn.in_proj_bias', 'attn.qkv.bias'),
    ('attn.out_proj.', 'attn.proj.'),
    ('mlp.c_fc.', 'ffn.layers.0.0.'),
    ('mlp.c_proj.', 'ffn.layers.1.'),
)


@dataclass
class PretrainedReport:
    """Where the tensors of a pretrained file went.

    Attributes:
        layout (str): The layout read (``'vit'``, ``'dino'``, ...).
        mapped (dict[str, str]): Source key (as in the file, wrappers
            joined with ``.``) to model key.
        dropped (dict[str, str]): Source key to the reason it is not loaded.
        notes (list[str]): Other conversions (position embedding grid,
            ``fc_norm`` use, ...).
    """

    layout: str
    mapped: Dict[str, str] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def summary(self, max_keys: int = 4) -> str:
        """A log line: counts, dropped keys grouped by reason, notes.

        Args:
            max_keys (int): Keys shown per reason. Defaults to 4.

        Returns:
            str: The summary.
        """
        lines = [
            f'Pretrained weights ({self.layout} layout): '
            f'{len(self.mapped)} tensors mapped, {len(self.dropped)} dropped.'
        ]
        by_reason: Dict[str, List[str]] = {}
        for key, reason in self.dropped.items():
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            more = f' (+{len(keys) - max_keys} more)' if len(
                keys) > max_keys else ''
            lines.append(f'  dropped, {reason}: {keys[:max_keys]}{more}')
        lines += [f'  {note}' for note in self.notes]
        return '\n'.join(lines)


def _tensors(mapping: Mapping, prefix: str = '') -> Dict[str, torch.Tensor]:
    return {
        prefix + k: v
        for k, v in mapping.items() if isinstance(v, torch.Tensor)
    }


def _strip(key: str, prefixes: Sequence[str]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def detect_pretrained_layout(checkpoint: Mapping) -> str:
    """Tell the layout of a loaded pretrained file.

    Args:
        checkpoint (Mapping): What
            :func:`~mmpha.models.utils.load_weights_file` returned.

    Returns:
        str: ``'dino'`` (``teacher`` / ``student`` branches), ``'clip'``
        (``visual.conv1.weight``), ``'mae'`` (an MAE decoder, ``mask_token``
        or ``fc_norm`` without ``norm``) or ``'vit'`` (other timm keys).

    Raises:
        ValueError: If the file has none of these layouts.
    """
    if any(
            isinstance(checkpoint.get(b), Mapping)
            for b in ('teacher', 'student')):
        return 'dino'
    keys = [_strip(k, ('module.', )) for k in _source_weights(checkpoint)[1]]
    if any(
            k.endswith('conv1.weight') and 'visual' in k
            or k == 'class_embedding' for k in keys):
        return 'clip'
    keys = [_strip(k, ('backbone.', )) for k in keys]
    if not any(k.startswith('blocks.') for k in keys):
        raise ValueError(
            'cannot tell the layout of the pretrained weights: expected '
            'timm-style ViT keys ("blocks.0. ..."), DINO "teacher"/"student" '
            'branches or CLIP "visual.*" keys, got '
            f'{keys[:8]}')
    if any(k == 'mask_token' or k.startswith('decoder')
           for k in keys) or ('fc_norm.weight' in keys
                              and 'norm.weight' not in keys):
        return 'mae'
    return 'vit'


def is_pretrained_layout(checkpoint: Mapping) -> bool:
    """Whether :func:`detect_pretrained_layout` recognises a checkpoint.

    Args:
        checkpoint (Mapping): A loaded file.

    Returns:
        bool: True for timm-style, DINO, MAE and CLIP files; False for
        mmpretrain / mmpha ones and anything else.
    """
    try:
        detect_pretrained_layout(checkpoint)
    except (ValueError, TypeError):
        return False
    return True


def _source_weights(checkpoint: Mapping
                    ) -> Tuple[str, Dict[str, torch.Tensor]]:
    """The wrapper name and the tensors of a non-DINO checkpoint."""
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), Mapping):
            return key + '.', _tensors(checkpoint[key])
    return '', _tensors(checkpoint)


def infer_pos_grid(num_patches: int) -> Tuple[int, int]:
    """The patch grid of a position embedding: square, else ``2w x w``.

    Person-pretrained ViTs (LUPerson, TransReID-SSL) are pretrained at
    256x128, a grid twice as high as wide.

    Args:
        num_patches (int): Patch rows of the embedding.

    Returns:
        tuple[int, int]: ``(Hs, Ws)``.

    Raises:
        ValueError: If ``num_patches`` is neither ``s * s`` nor ``2w * w``.
    """
    side = math.isqrt(num_patches)
    if side * side == num_patches:
        return side, side
    width = math.isqrt(num_patches // 2)
    if 2 * width * width == num_patches:
        return 2 * width, width
    raise ValueError(
        f'cannot infer the patch grid of a position embedding with '
        f'{num_patches} patch tokens (neither square nor twice as high as '
        'wide): give it as init_cfg src_grid=(H, W)')


def _map_timm_key(key: str) -> Tuple[Optional[str], str]:
    """(model key, '') or (None, reason) for one timm-style key."""
    if key in ('cls_token', 'pos_embed'):
        return key, ''
    if key.startswith('patch_embed.proj.'):
        return 'patch_embed.projection.' + key[len('patch_embed.proj.'):], ''
    if key.startswith('patch_embed.conv.'):
        raise ValueError(
            'this ViT has a convolutional stem (patch_embed.conv.*, e.g. '
            'TransReID-SSL\'s "ics" models); the TransReID ViT has a single '
            'patch convolution: use the file without the stem (e.g. '
            'vit_small_cfs_lup.pth instead of vit_small_ics_cfs_lup.pth)')
    if key.startswith('norm.'):
        return 'ln1.' + key[len('norm.'):], ''
    if key.startswith(_CLASSIFIER_PREFIXES):
        return None, 'classifier head (a re-ID model trains its own)'
    if key == 'dist_token':
        return None, 'distillation token (its position row is removed too)'
    if key == 'mask_token' or key.startswith('decoder'):
        return None, 'MAE decoder (used for pretraining only)'
    match = re.match(r'^blocks\.(\d+)\.(.*)$', key)
    if match:
        index, rest = match.groups()
        new = timm_block_key(rest)
        if new is not None:
            return f'layers.{index}.{new}', ''
        return None, 'not a parameter of a timm ViT block'
    return None, 'no counterpart in the TransReID ViT'


def _map_clip_key(key: str) -> Tuple[Optional[str], str]:
    """(model key, '') or (None, reason) for one key of CLIP's ``visual``."""
    simple = {
        'conv1.weight': 'patch_embed.projection.weight',
        'class_embedding': 'cls_token',
        'positional_embedding': 'pos_embed',
        'proj': 'proj',
    }
    if key in simple:
        return simple[key], ''
    for old, new in (('ln_pre.', 'pre_norm.'), ('ln_post.', 'ln1.')):
        if key.startswith(old):
            return new + key[len(old):], ''
    match = re.match(r'^transformer\.resblocks\.(\d+)\.(.*)$', key)
    if match:
        index, rest = match.groups()
        for old, new in _CLIP_BLOCK_KEYS:
            if rest.startswith(old):
                return f'layers.{index}.{new}{rest[len(old):]}', ''
        return None, 'not a parameter of a CLIP residual block'
    return None, 'no counterpart in the CLIP ViT'


def _select(checkpoint: Mapping, layout: str, dino_branch: str,
            report: PretrainedReport) -> Dict[str, Tuple[str, torch.Tensor]]:
    """Backbone-relative key -> (source key, tensor); drops the rest."""
    selected = {}
    if layout == 'dino':
        if dino_branch not in ('teacher', 'student'):
            raise ValueError(f"dino_branch must be 'teacher' or 'student', "
                             f'got {dino_branch!r}')
        for branch in ('teacher', 'student'):
            tensors = _tensors(checkpoint.get(branch) or {}, branch + '.')
            for src, value in tensors.items():
                key = _strip(src[len(branch) + 1:], ('module.', ))
                if branch != dino_branch:
                    report.dropped[src] = (f'DINO {branch} branch (the '
                                           f'{dino_branch} is loaded)')
                elif key.startswith('backbone.'):
                    selected[key[len('backbone.'):]] = (src, value)
                else:
                    report.dropped[src] = ('DINO projection head (used for '
                                           'self-supervision only)')
        if not selected:
            raise ValueError(f'the DINO checkpoint has no "{dino_branch}" '
                             'branch with backbone.* tensors')
        return selected
    wrapper, tensors = _source_weights(checkpoint)
    for src, value in tensors.items():
        key = _strip(src, ('module.', ))
        if layout == 'clip':
            if key.startswith('visual.'):
                selected[key[len('visual.'):]] = (wrapper + src, value)
            elif 'class_embedding' in tensors and not any(
                    k.startswith('visual.') for k in tensors):
                selected[key] = (wrapper + src, value)
            else:
                report.dropped[wrapper + src] = 'CLIP text encoder'
        else:
            selected[_strip(key, ('backbone.', ))] = (wrapper + src, value)
    return selected


def convert_pretrained_checkpoint(
        checkpoint: Mapping,
        model_state: Mapping[str, torch.Tensor],
        dst_grid: Sequence[int],
        layout: PretrainedLayout = 'auto',
        dino_branch: Literal['teacher', 'student'] = 'teacher',
        mae_fc_norm: Literal['as_final_norm', 'drop'] = 'as_final_norm',
        src_grid: Optional[Sequence[int]] = None,
        num_extra_tokens: int = 1,
        mode: str = 'bilinear') -> Tuple[StateDict, PretrainedReport]:
    """Convert a person-pretrained / self-supervised / CLIP ViT file.

    Args:
        checkpoint (Mapping): What
            :func:`~mmpha.models.utils.load_weights_file` returned.
        model_state (Mapping[str, torch.Tensor]): The target backbone's
            ``state_dict()``; its shapes are checked.
        dst_grid (Sequence[int]): The model's patch grid ``(Hp, Wp)``.
        layout (str): One of :data:`PRETRAINED_LAYOUTS`; ``'auto'`` detects
            it (:func:`detect_pretrained_layout`). Defaults to ``'auto'``.
        dino_branch (str): The DINO branch to load. Defaults to
            ``'teacher'`` (the one DINO evaluates).
        mae_fc_norm (str): A global-pool MAE model has ``fc_norm`` (applied
            to the mean patch token) and no ``norm``: ``'as_final_norm'``
            loads it as the final norm, ``'drop'`` leaves the final norm at
            its initial value. With ``norm`` present ``fc_norm`` is always
            dropped. Defaults to ``'as_final_norm'``.
        src_grid (Sequence[int], optional): Patch grid of the file's
            position embedding; inferred by :func:`infer_pos_grid` when
            None. Defaults to None.
        num_extra_tokens (int): Class-token rows of the embedding.
            Defaults to 1.
        mode (str): Interpolation of the position embedding.
            Defaults to ``'bilinear'``.

    Returns:
        tuple[dict[str, torch.Tensor], PretrainedReport]: Tensors under the
        model's keys, with the shapes of ``model_state``, and the report.

    Raises:
        ValueError: For an unknown layout, CLIP weights and a model without
            ``pre_norm`` / ``proj``, a convolutional stem, or a tensor whose
            shape cannot be made the model's.
    """
    if layout not in PRETRAINED_LAYOUTS:
        raise ValueError(f'layout must be one of {PRETRAINED_LAYOUTS}, got '
                         f'{layout!r}')
    if mae_fc_norm not in ('as_final_norm', 'drop'):
        raise ValueError("mae_fc_norm must be 'as_final_norm' or 'drop', "
                         f'got {mae_fc_norm!r}')
    if layout == 'auto':
        layout = detect_pretrained_layout(checkpoint)
    if layout == 'clip' and not {'pre_norm.weight', 'proj'
                                 } <= set(model_state):
        raise ValueError(
            'CLIP weights need ln_pre and proj: build the backbone as '
            "type='CLIPViT', not TransReIDViT")
    report = PretrainedReport(layout=layout)
    selected = _select(checkpoint, layout, dino_branch, report)
    keys = set(selected)
    mapper = _map_clip_key if layout == 'clip' else _map_timm_key
    state_dict: StateDict = {}
    for key, (src, value) in selected.items():
        if key == 'fc_norm.weight' or key == 'fc_norm.bias':
            if 'norm.weight' in keys or mae_fc_norm == 'drop':
                report.dropped[src] = 'fc_norm of a global-pool classifier'
                continue
            new = 'ln1.' + key.split('.')[-1]
            if key.endswith('weight'):
                report.notes.append(
                    'fc_norm (MAE global-pool model, no norm) loaded as the '
                    'final norm (mae_fc_norm=\'as_final_norm\').')
        else:
            new, reason = mapper(key)
            if new is None:
                report.dropped[src] = reason
                continue
        if new not in model_state:
            report.dropped[src] = f'the model has no {new}'
            continue
        state_dict[new] = value
        report.mapped[src] = new
    _fit_shapes(state_dict, model_state, dst_grid, src_grid, num_extra_tokens,
                mode, report)
    return state_dict, report


def _fit_shapes(state_dict: StateDict, model_state: Mapping[str, torch.Tensor],
                dst_grid: Sequence[int], src_grid: Optional[Sequence[int]],
                num_extra_tokens: int, mode: str,
                report: PretrainedReport) -> None:
    """Reshape CLIP's flat tokens, drop a distillation row, resize pos."""
    target = {k: tuple(model_state[k].shape) for k in state_dict}
    if 'cls_token' in state_dict and state_dict['cls_token'].dim() == 1:
        state_dict['cls_token'] = state_dict['cls_token'].reshape(1, 1, -1)
    pos = state_dict.get('pos_embed')
    if pos is not None:
        if pos.dim() == 2:
            pos = pos[None]
        if any(k.endswith('dist_token') for k in report.dropped):
            pos = torch.cat([pos[:, :1], pos[:, 2:]], dim=1)
        if tuple(pos.shape) != target['pos_embed']:
            grid = tuple(src_grid) if src_grid is not None else \
                infer_pos_grid(pos.shape[1] - num_extra_tokens)
            old = tuple(pos.shape)
            pos = resize_pos_embed_to_grid(
                pos,
                dst_grid,
                src_grid=grid,
                num_extra_tokens=num_extra_tokens,
                mode=mode)
            report.notes.append(
                f'pos_embed resized from {old} (grid {grid[0]}x{grid[1]}) '
                f'to {tuple(pos.shape)} (grid {dst_grid[0]}x{dst_grid[1]}, '
                f'{mode}, class token kept).')
        state_dict['pos_embed'] = pos
    wrong = [
        f'{k}: file {tuple(v.shape)} vs model {target[k]}'
        for k, v in state_dict.items() if tuple(v.shape) != target[k]
    ]
    if wrong:
        raise ValueError(
            'pretrained tensors do not fit the backbone (is arch the one '
            f'the file was trained with?): {wrong[:6]}')
