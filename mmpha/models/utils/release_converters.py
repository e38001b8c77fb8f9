"""Whole checkpoints of the released TransReID and PHA code in mmpha's layout.

Longer than 500 lines on purpose: the key map of the three release layouts,
the structural completeness check, the fit to a target model and the load
pre-hook are one conversion that is checked as a whole against the authors'
release (a converted checkpoint gives the release feature within 1e-5);
split, each part would only be read with the others.

The authors' code (TransReID, ICCV 2021; PHA, CVPR 2023) saves
``model.state_dict()`` of one of three ViT models. What each one runs at
inference decides where its tensors go in mmpha:

- ``'transreid'`` (``build_transformer``, JPM off): ``base`` runs all L
  blocks and ``base.norm``; ``bottleneck`` is the BNNeck, ``classifier`` the
  ID classifier.
- ``'transreid-jpm'`` (``build_transformer_local``): ``base`` runs blocks
  ``0 .. L-2`` only. The global branch runs ``b1`` (``b1.0`` a copy of the
  last block, ``b1.1`` of the norm), the JPM branch ``b2``; ``bottleneck``,
  ``bottleneck_1..4``, ``classifier``, ``classifier_1..4`` are the BNNecks and
  classifiers of the global and the four local features.
  ``base.blocks.{L-1}`` and ``base.norm`` are never run (they keep their
  ImageNet values).
- ``'pha'`` (PHA's ``build_transformer_local``): as above with ``b1_block`` /
  ``b1_norm`` and ``b2_block`` / ``b2_norm``, plus the HF branches:
  ``bottleneck_mask`` (tokens of x), ``bottleneck_mask_adv`` (tokens of
  x_hf) and their shared ``classifier_mask``. ``b1_block_mask``,
  ``b1_norm_mask``, ``classifier_mask_branch`` and
  ``bottleneck_mask_branch`` are never run.

``base.fc`` (the ViT's ImageNet classifier) is never run in any of them.

mmpha's model runs the global branch through the backbone's own last block
and norm and the JPM branch through the head's copy, so:

=================================  ==========================================
release                            mmpha
=================================  ==========================================
``base.patch_embed.proj``          ``backbone.patch_embed.projection``
``base.cls_token``, ``pos_embed``  ``backbone.cls_token``, ``pos_embed``
``base.sie_embed`` (R, 1, C)       ``backbone.sie_embed`` (R, C)
``base.blocks.{i}``, i < L-1       ``backbone.layers.{i}``
``b1.0`` / ``b1_block``            ``backbone.layers.{L-1}``
``b1.1`` / ``b1_norm``             ``backbone.ln1``
``base.blocks.{L-1}``, ``norm``    the same two, JPM off only
``b2.0`` / ``b2_block``            ``jpm.block``
``b2.1`` / ``b2_norm``             ``jpm.norm``
``bottleneck``, ``bottleneck_i``   ``head.bnnecks.0``, ``head.bnnecks.i``
``classifier``, ``classifier_i``   ``head.classifiers.0``, ``.i``
``bottleneck_mask``                ``pha_head.bnnecks.x``
``bottleneck_mask_adv``            ``pha_head.bnnecks.xhf``
``classifier_mask``                ``pha_head.classifier``
=================================  ==========================================

Block parameters are renamed from timm's names to mmpretrain's
(:func:`~mmpha.models.utils.weight_converters.timm_block_key`). SIE rows are
indexed alike in both codes (``cam * view_num + view`` for camera x view).
"""
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log

from .weight_converters import (ReleaseLayout, detect_release_layout,
                                extract_state_dict, resize_pos_embed_to_grid,
                                timm_block_key)

StateDict = Dict[str, torch.Tensor]
Grid = Tuple[int, int]

# Where each layout's last block, final norm and JPM copies live.
_BRANCHES = {
    'transreid':
    dict(last_block=None, last_norm='base.norm.', jpm=None),
    'transreid-jpm':
    dict(last_block='b1.0.', last_norm='b1.1.', jpm=('b2.0.', 'b2.1.')),
    'pha':
    dict(
        last_block='b1_block.',
        last_norm='b1_norm.',
        jpm=('b2_block.', 'b2_norm.')),
}
# Release prefix -> mmpha prefix of the heads (the BNNecks and classifiers).
_HEAD_PREFIXES = (
    (r'^bottleneck\.', 'head.bnnecks.0.'),
    (r'^bottleneck_(\d+)\.', r'head.bnnecks.\1.'),
    (r'^classifier\.', 'head.classifiers.0.'),
    (r'^classifier_(\d+)\.', r'head.classifiers.\1.'),
)
_PHA_PREFIXES = (
    (r'^bottleneck_mask\.', 'pha_head.bnnecks.x.'),
    (r'^bottleneck_mask_adv\.', 'pha_head.bnnecks.xhf.'),
    (r'^classifier_mask\.', 'pha_head.classifier.'),
)
_DEAD_PHA = {
    'b1_block_mask.': 'a copy of the last block that the PHA release never '
    'runs',
    'b1_norm_mask.': 'a copy of the final norm that the PHA release never '
    'runs',
    'classifier_mask_branch.': 'a classifier that the PHA release never '
    'runs',
    'bottleneck_mask_branch.': 'a BNNeck that the PHA release never runs',
}
_DEAD_FC = ("the ViT's ImageNet classifier head (base.fc), never run by the "
            're-ID model')
_DEAD_LAST = ('never run: with JPM the release runs base.blocks 0..L-2 only, '
              'and the global branch runs the copy {copy}')
_BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var')


class ReleaseCheckpointError(ValueError):
    """A released checkpoint that cannot be mapped onto the mmpha model."""


@dataclass
class ConversionReport:
    """What :func:`convert_release_state_dict` did.

    Attributes:
        layout (str): The release model, see :func:`detect_release_layout`.
        converted (dict[str, str]): Release key -> mmpha key.
        dropped (dict[str, str]): Release key -> why it was left out.
        kept_at_init (dict[str, str]): mmpha key -> why the model keeps its
            own value (a classifier for another class count, a training-only
            part the release does not have).
        resized (dict[str, str]): mmpha key -> how it was resized.
    """
    layout: str
    converted: Dict[str, str] = field(default_factory=dict)
    dropped: Dict[str, str] = field(default_factory=dict)
    kept_at_init: Dict[str, str] = field(default_factory=dict)
    resized: Dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """A readable account: counts, then every left-out key by reason.

        Returns:
            str: Several lines.
        """
        lines = [
            f'Released {self.layout} checkpoint: {len(self.converted)} '
            'tensors mapped onto the mmpha model.'
        ]
        for title, table in (('Release tensors left out', self.dropped),
                             ('mmpha tensors kept at their initial value',
                              self.kept_at_init), ('Resized', self.resized)):
            if not table:
                continue
            by_reason = defaultdict(list)
            for key, reason in table.items():
                by_reason[reason].append(key)
            lines.append(f'{title} ({len(table)}):')
            lines += [
                f'  - {reason}: {", ".join(keys)}'
                for reason, keys in by_reason.items()
            ]
        return '\n'.join(lines)


def is_release_checkpoint(checkpoint: Mapping) -> bool:
    """Whether a loaded checkpoint holds a released TransReID / PHA model.

    Args:
        checkpoint (Mapping): A state dict, or a dict holding one under
            ``'state_dict'`` / ``'model'``; a ``module.`` prefix is allowed.

    Returns:
        bool: True for the three layouts of :func:`detect_release_layout`.
    """
    try:
        state_dict = extract_state_dict(checkpoint)
    except TypeError:
        return False
    return detect_release_layout(state_dict) is not None


def infer_src_grid(num_patches: int, dst_grid: Sequence[int]) -> Grid:
    """The patch grid that a release position embedding was trained on.

    The checkpoint stores only the number of patches. The released configs
    change the image height (256 / 384) more often than its width, so the
    guesses, in order, are: the model's grid, the model's grid width, its
    height, a square grid.

    Args:
        num_patches (int): Patch rows of the release's position embedding.
        dst_grid (Sequence[int]): The model's ``(Hp, Wp)``.

    Returns:
        tuple[int, int]: ``(Hs, Ws)`` with ``Hs * Ws == num_patches``.

    Raises:
        ReleaseCheckpointError: If none of the guesses fits.
    """
    height, width = (int(v) for v in dst_grid)
    if num_patches == height * width:
        return height, width
    if num_patches % width == 0:
        return num_patches // width, width
    if num_patches % height == 0:
        return height, num_patches // height
    side = int(round(num_patches**0.5))
    if side * side == num_patches:
        return side, side
    raise ReleaseCheckpointError(
        f'cannot tell the patch grid of the release position embedding '
        f'({num_patches} patches) from the model grid {tuple(dst_grid)}: '
        'give the release grid explicitly (src_grid, or --src-grid H W of '
        'the converter: (H - 16) // stride + 1, (W - 16) // stride + 1 of '
        'its INPUT.SIZE_TRAIN and MODEL.STRIDE_SIZE)')


def _release_depth(state_dict: Mapping[str, torch.Tensor]) -> int:
    indices = {
        int(m.group(1))
        for m in map(re.compile(r'^base\.blocks\.(\d+)\.').match, state_dict)
        if m
    }
    return max(indices) + 1


def _map_block(rest: str, mmpha_prefix: str) -> Optional[str]:
    name = timm_block_key(rest)
    return None if name is None else mmpha_prefix + name


def _map_key(key: str, layout: ReleaseLayout,
             depth: int) -> Tuple[Optional[str], Optional[str]]:
    """``(mmpha_key, None)``, ``(None, reason)`` (dropped) or
    ``(None, None)`` (unknown)."""
    branches = _BRANCHES[layout]
    last = depth - 1
    if key.startswith('base.fc.'):
        return None, _DEAD_FC
    if layout == 'pha':
        for prefix, reason in _DEAD_PHA.items():
            if key.startswith(prefix):
                return None, reason
        for pattern, repl in _PHA_PREFIXES:
            if re.match(pattern, key):
                return re.sub(pattern, repl, key), None
    for pattern, repl in _HEAD_PREFIXES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key), None
    if key in ('base.cls_token', 'base.pos_embed', 'base.sie_embed'):
        return 'backbone.' + key[len('base.'):], None
    if key.startswith('base.patch_embed.proj.'):
        return key.replace('base.patch_embed.proj.',
                           'backbone.patch_embed.projection.'), None
    match = re.match(r'^base\.blocks\.(\d+)\.(.*)$', key)
    if match:
        index, rest = int(match.group(1)), match.group(2)
        if index == last and branches['last_block'] is not None:
            return None, _DEAD_LAST.format(copy=branches['last_block'][:-1])
        return _map_block(rest, f'backbone.layers.{index}.'), None
    if key.startswith('base.norm.'):
        if branches['last_norm'] != 'base.norm.':
            return None, _DEAD_LAST.format(copy=branches['last_norm'][:-1])
        return 'backbone.ln1.' + key[len('base.norm.'):], None
    if branches['last_block'] and key.startswith(branches['last_block']):
        return _map_block(key[len(branches['last_block']):],
                          f'backbone.layers.{last}.'), None
    if key.startswith(branches['last_norm']):
        return 'backbone.ln1.' + key[len(branches['last_norm']):], None
    if branches['jpm'] is not None:
        block, norm = branches['jpm']
        if key.startswith(block):
            return _map_block(key[len(block):], 'jpm.block.'), None
        if key.startswith(norm):
            return 'jpm.norm.' + key[len(norm):], None
    return None, None


def _structural_missing(converted: Mapping[str, torch.Tensor],
                        layout: ReleaseLayout, depth: int) -> List[str]:
    """mmpha tensors that the release layout implies but the file lacks."""
    # Every block must hold what any block holds (qkv bias or not).
    block_names = sorted({
        m.group(1)
        for m in map(
            re.compile(r'^(?:backbone\.layers\.\d+|jpm\.block)\.(.*)$').match,
            converted) if m
    })
    required = [
        'backbone.cls_token', 'backbone.pos_embed',
        'backbone.patch_embed.projection.weight', 'backbone.ln1.weight',
        'backbone.ln1.bias', 'head.classifiers.0.weight'
    ]
    required += [f'head.bnnecks.0.{name}' for name in _BN_KEYS]
    for index in range(depth):
        required += [f'backbone.layers.{index}.{n}' for n in block_names]
    if layout != 'transreid':
        required += [f'jpm.block.{n}' for n in block_names]
        required += ['jpm.norm.weight', 'jpm.norm.bias']
        parts = {
            int(m.group(1))
            for m in map(
                re.compile(r'^head\.(?:bnnecks|classifiers)\.(\d+)\.').match,
                converted) if m
        } - {0}
        for part in range(1, max(parts, default=0) + 1):
            required.append(f'head.classifiers.{part}.weight')
            required += [f'head.bnnecks.{part}.{n}' for n in _BN_KEYS]
        if not parts:
            required.append('head.bnnecks.1.weight')
    if layout == 'pha':
        required.append('pha_head.classifier.weight')
        for branch in ('x', 'xhf'):
            required += [f'pha_head.bnnecks.{branch}.{n}' for n in _BN_KEYS]
    return [key for key in required if key not in converted]


def fit_pos_embed(pos_embed: torch.Tensor,
                  dst_grid: Sequence[int],
                  src_grid: Optional[Sequence[int]] = None,
                  mode: str = 'bilinear') -> torch.Tensor:
    """Resize a release position embedding to the model's grid if needed.

    Args:
        pos_embed (torch.Tensor): ``(1, 1 + Hs * Ws, C)``.
        dst_grid (Sequence[int]): The model's ``(Hp, Wp)``.
        src_grid (Sequence[int], optional): ``(Hs, Ws)``; inferred by
            :func:`infer_src_grid` when None. Defaults to None.
        mode (str): Interpolation mode. Defaults to ``'bilinear'``.

    Returns:
        torch.Tensor: ``(1, 1 + Hp * Wp, C)``; the input itself when the
        sizes already agree.
    """
    num_patches = pos_embed.shape[1] - 1
    if src_grid is None:
        if num_patches == dst_grid[0] * dst_grid[1]:
            return pos_embed
        src_grid = infer_src_grid(num_patches, dst_grid)
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    return resize_pos_embed_to_grid(
        pos_embed, dst_grid, src_grid=src_grid, mode=mode)


def _fit_to_target(converted: StateDict, target: Mapping[str, torch.Tensor],
                   report: ConversionReport, dst_grid: Optional[Sequence[int]],
                   src_grid: Optional[Sequence[int]], mode: str) -> StateDict:
    """Check the converted tensors against the model's own state dict."""
    origin = {new: old for old, new in report.converted.items()}
    has_jpm = any(k.startswith('jpm.block.') for k in target)
    errors = []

    def drop(key: str, reason: str) -> None:
        converted.pop(key)
        report.converted.pop(origin[key])
        report.dropped[origin[key]] = reason

    for key in [k for k in converted if k not in target]:
        if key.startswith('pha_head.'):
            drop(
                key, 'an HF branch (training only) that the model does not '
                'have')
        elif not has_jpm and re.match(
                r'^(jpm\.|head\.(bnnecks|classifiers)\.[1-9])', key):
            drop(
                key, 'the JPM branch, which the model does not have '
                '(no jpm): its test feature is the global one only')
        elif key == 'backbone.sie_embed':
            errors.append(
                f'the release has SIE ({tuple(converted[key].shape)[0]} '
                'rows) but the model has none: set the backbone\'s '
                'camera_num / view_num as the release trained (rows = '
                'cameras, views, or cameras x views)')
        else:
            errors.append(f'{key} (from {origin[key]}) has no place in the '
                          'model')

    classes = {}
    for key in [k for k in converted if k in target]:
        value, own = converted[key], target[key]
        if value.shape == own.shape:
            continue
        if re.match(r'^(head\.classifiers\.\d+|pha_head\.classifier)\.', key):
            classes[key] = (value.shape[0], own.shape[0])
            drop(
                key, f'a classifier for {value.shape[0]} classes, the model '
                f'has {own.shape[0]}')
            report.kept_at_init[key] = (
                'classifier for another class count: not used by inference, '
                'trained anew when fine-tuning')
        elif key == 'backbone.pos_embed' and dst_grid is not None:
            converted[key] = fit_pos_embed(value, dst_grid, src_grid, mode)
            report.resized[key] = (f'{tuple(value.shape)} -> '
                                   f'{tuple(converted[key].shape)} ({mode})')
            if converted[key].shape != own.shape:
                errors.append(f'{key}: resized to '
                              f'{tuple(converted[key].shape)}, the model '
                              f'has {tuple(own.shape)}')
        elif key == 'backbone.sie_embed':
            errors.append(
                f'{key}: the release has {value.shape[0]} SIE rows, the '
                f'model {own.shape[0]}: set camera_num / view_num as the '
                'release trained')
        else:
            errors.append(f'{key} (from {origin[key]}): release shape '
                          f'{tuple(value.shape)}, model {tuple(own.shape)}')

    missing = []
    for key in target:
        if key in converted or key in report.kept_at_init:
            continue
        if key.endswith('num_batches_tracked'):
            continue  # BatchNorm fills it in; the release may lack it
        if key.startswith('pha_head.') and report.layout != 'pha':
            report.kept_at_init[key] = (
                'training-only HF branch of PHA, which the release does not '
                'have; inference does not use it')
        elif key == 'backbone.sie_embed':
            errors.append(
                'the model has SIE but the release has none: set the '
                "backbone's camera_num=0 and view_num=0")
        else:
            missing.append(key)
    if missing:
        errors.append('the release does not fill these mmpha tensors: ' +
                      ', '.join(missing))
    if errors:
        raise ReleaseCheckpointError(
            f'cannot load the released {report.layout} checkpoint into this '
            'model:\n  - ' + '\n  - '.join(errors))
    return converted


def convert_release_state_dict(checkpoint: Mapping,
                               target: Optional[Mapping[str,
                                                        torch.Tensor]] = None,
                               dst_grid: Optional[Sequence[int]] = None,
                               src_grid: Optional[Sequence[int]] = None,
                               mode: str = 'bilinear',
                               shift_num: int = 5
                               ) -> Tuple[StateDict, ConversionReport]:
    """Map a released TransReID / PHA checkpoint onto mmpha's keys.

    Every release tensor is either mapped (see the module docstring) or left
    out with a reason (the modules the release never runs); a key that is
    neither is an error. The mapped tensors must fill every mmpha tensor:

    - without ``target``, every tensor the release layout implies (all L
      blocks, the final norm, each BNNeck and classifier, the JPM copy, the
      HF branches of PHA);
    - with ``target`` (the model's ``state_dict()``), every key of it, in
      its shape. Exceptions, reported in ``kept_at_init``: classifiers
      trained for another number of classes are left out (inference does
      not use them), and PHA's training-only ``pha_head`` stays at its
      initial value when the release has no HF branches. Release parts the
      model does not have (the JPM branch for ``jpm=False``, an HF branch)
      are left out and reported. The position embedding is resized to
      ``dst_grid`` when the number of patches differs.

    Args:
        checkpoint (Mapping): The loaded file: a state dict (``module.``
            prefix allowed) or a dict holding one under ``'state_dict'`` /
            ``'model'``.
        target (Mapping[str, torch.Tensor], optional): The mmpha model's
            state dict. Defaults to None.
        dst_grid (Sequence[int], optional): The model's patch grid
            ``(Hp, Wp)``, needed to resize the position embedding.
            Defaults to None.
        src_grid (Sequence[int], optional): The release's patch grid;
            inferred by :func:`infer_src_grid` when None. Defaults to None.
        mode (str): Interpolation of the position embedding. Defaults to
            ``'bilinear'``.
        shift_num (int): The release config's ``MODEL.SHIFT_NUM`` (5 in
            every released person re-ID config). Its ``shuffle_unit`` moves
            ``SHIFT_NUM - 1`` patch tokens, so a JPM checkpoint gets
            ``jpm.jpm_shift = shift_num - 1``, which the JPM module takes on
            when it loads. Defaults to 5.

    Returns:
        tuple[dict[str, torch.Tensor], ConversionReport]: The mmpha state
        dict (the release's tensors, not copies, except the reshaped SIE
        table and a resized position embedding) and the report.

    Raises:
        ReleaseCheckpointError: If the file is not a release checkpoint,
            holds tensors of unknown purpose, or cannot fill the model.
    """
    state_dict = extract_state_dict(checkpoint)
    layout = detect_release_layout(state_dict)
    if layout is None:
        raise ReleaseCheckpointError(
            'not a checkpoint of the released TransReID / PHA ViT models: '
            'expected base.pos_embed and base.blocks.* keys (and no mmpha '
            f'backbone. / head. keys), got {list(state_dict)[:8]}')
    depth = _release_depth(state_dict)
    if target is not None:
        layers = {
            int(m.group(1))
            for m in map(
                re.compile(r'^backbone\.layers\.(\d+)\.').match, target) if m
        }
        if layers and max(layers) + 1 != depth:
            raise ReleaseCheckpointError(
                f'the release has {depth} blocks (base.blocks), the model '
                f'{max(layers) + 1}: set the backbone arch to the release\'s')
    report = ConversionReport(layout=layout)
    converted, unknown = {}, []
    for key, value in state_dict.items():
        new_key, reason = _map_key(key, layout, depth)
        if reason is not None:
            report.dropped[key] = reason
        elif new_key is None:
            unknown.append(key)
        else:
            if new_key == 'backbone.sie_embed' and value.dim() == 3:
                value = value.flatten(1)  # (num_sie, 1, C) -> (num_sie, C)
            converted[new_key] = value
            report.converted[key] = new_key
    if unknown:
        raise ReleaseCheckpointError(
            f'tensors of the released {layout} checkpoint that no mmpha '
            f'tensor corresponds to (a model this converter does not know): '
            f'{unknown}')
    missing = _structural_missing(converted, layout, depth)
    if missing:
        raise ReleaseCheckpointError(
            f'the released {layout} checkpoint is incomplete; these mmpha '
            f'tensors would stay unfilled: {missing}')
    if layout != 'transreid':
        if isinstance(shift_num, bool) or not isinstance(shift_num, int) \
                or shift_num < 1:
            raise ValueError(
                f'shift_num must be a positive int, got {shift_num!r}')
        # Not a tensor of the file: the release's config, which decides the
        # JPM shift its weights were trained with.
        converted['jpm.jpm_shift'] = torch.tensor(shift_num - 1)
        report.converted[f'SHIFT_NUM={shift_num} (release config)'] = \
            'jpm.jpm_shift'
    if target is not None:
        converted = _fit_to_target(converted, target, report, dst_grid,
                                   src_grid, mode)
    elif dst_grid is not None:
        pos_embed = converted['backbone.pos_embed']
        converted['backbone.pos_embed'] = fit_pos_embed(
            pos_embed, dst_grid, src_grid, mode)
        if converted['backbone.pos_embed'] is not pos_embed:
            report.resized['backbone.pos_embed'] = (
                f'{tuple(pos_embed.shape)} -> '
                f'{tuple(converted["backbone.pos_embed"].shape)} ({mode})')
    return converted, report


def release_backbone_state_dict(checkpoint: Mapping,
                                dst_grid: Optional[Sequence[int]] = None,
                                src_grid: Optional[Sequence[int]] = None,
                                mode: str = 'bilinear'
                                ) -> Tuple[StateDict, ConversionReport]:
    """The backbone part of a released checkpoint, in TransReIDViT's keys.

    The last block and final norm come from the branch the release runs
    (``b1`` / ``b1_block`` with JPM), not from ``base``.

    Args:
        checkpoint (Mapping): See :func:`convert_release_state_dict`.
        dst_grid (Sequence[int], optional): The backbone's patch grid, to
            resize the position embedding to. Defaults to None.
        src_grid (Sequence[int], optional): The release's patch grid.
            Defaults to None.
        mode (str): Interpolation mode. Defaults to ``'bilinear'``.

    Returns:
        tuple[dict[str, torch.Tensor], ConversionReport]: Keys without the
        ``backbone.`` prefix, and the report of the whole conversion.
    """
    converted, report = convert_release_state_dict(
        checkpoint, dst_grid=dst_grid, src_grid=src_grid, mode=mode)
    prefix = 'backbone.'
    return {
        k[len(prefix):]: v
        for k, v in converted.items() if k.startswith(prefix)
    }, report


def release_load_pre_hook(module: torch.nn.Module, state_dict: dict,
                          prefix: str, *args, **kwargs) -> None:
    """``load_state_dict`` pre-hook: map a released checkpoint in place.

    Registered on :class:`~mmpha.models.ReIDModel`, so ``load_from``,
    ``init_cfg=dict(type='Pretrained', ...)`` on the model,
    :func:`mmengine.runner.load_checkpoint` and ``model.load_state_dict``
    all accept a released TransReID / PHA state dict. Anything else is left
    untouched. The conversion is strict (see
    :func:`convert_release_state_dict`); what was mapped, left out and
    resized is logged.

    Args:
        module (torch.nn.Module): The model; its ``state_dict()`` is the
            target and its ``backbone.grid`` the patch grid.
        state_dict (dict): The dict being loaded, changed in place.
        prefix (str): The model's prefix in it.
        *args: The other arguments of a load pre-hook (unused).
        **kwargs: Unused.
    """
    own = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not is_release_checkpoint(own):
        return
    backbone = getattr(module, 'backbone', None)
    converted, report = convert_release_state_dict(
        own,
        target=module.state_dict(),
        dst_grid=getattr(backbone, 'grid', None),
        mode=getattr(backbone, 'interpolate_mode', 'bilinear'))
    for key in [k for k in state_dict if k.startswith(prefix)]:
        del state_dict[key]
    state_dict.update({prefix + k: v for k, v in converted.items()})
    print_log(
        report.summary(),
        logger='current',
        level=logging.WARNING if report.kept_at_init else logging.INFO)
