"""Load a state dict into a model and refuse one that does not fit it.

MMEngine's ``load_checkpoint`` is non-strict by default: keys the model
lacks, keys the checkpoint lacks and tensors of another shape are logged and
skipped. Evaluating a checkpoint of another model then reports the metrics
of randomly initialised weights. :func:`load_state_dict_checked` reports
what matched, and raises when anything did not (or when nothing matched,
whatever ``strict`` says).
"""
import logging
import re
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch.nn.modules.module import _IncompatibleKeys

#: How many keys of each kind an error message lists.
NUM_KEYS_SHOWN = 5

_DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's state dict does not fit the model it is loaded into."""


def state_dict_of(
    checkpoint: dict,
    revise_keys: Sequence[Tuple[str, str]] = _DEFAULT_REVISE_KEYS
) -> 'OrderedDict[str, torch.Tensor]':
    """The model state dict of a loaded checkpoint, with keys revised.

    Args:
        checkpoint (dict): A checkpoint as loaded from a file: a dict with a
            ``'state_dict'`` entry, or a state dict itself.
        revise_keys (Sequence[tuple[str, str]]): ``(pattern, replacement)``
            regular expressions applied to every key, in order. Defaults to
            stripping the ``module.`` prefix of wrapped models.

    Returns:
        OrderedDict: The state dict, with its ``_metadata`` kept.

    Raises:
        TypeError: If ``checkpoint`` is not a dict.
    """
    if not isinstance(checkpoint, dict):
        raise TypeError('a checkpoint must be a dict (a state dict or a dict '
                        f'with "state_dict"), got {type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state_dict, '_metadata', None)
    revised = OrderedDict()
    for key, value in state_dict.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    if metadata is not None:
        revised._metadata = metadata
    return revised


def _shown(keys: List[str]) -> str:
    """The first keys of a list, for an error message."""
    head = ', '.join(keys[:NUM_KEYS_SHOWN])
    more = len(keys) - NUM_KEYS_SHOWN
    return head + (f', ... ({more} more)' if more > 0 else '')


_SIZE_MISMATCH = re.compile(
    r'size mismatch for (?P<key>\S+): copying a param with shape '
    r'torch\.Size\((?P<old>\[.*?\])\) from checkpoint, the shape in current '
    r'model is torch\.Size\((?P<new>\[.*?\])\)')


def _short_error(message: str) -> str:
    """Torch's size-mismatch message as ``key: A in the checkpoint, B in the
    model``; other messages unchanged."""
    match = _SIZE_MISMATCH.match(message)
    if match is None:
        return message
    return (f'{match["key"]}: {match["old"]} in the checkpoint, '
            f'{match["new"]} in the model')


def load_state_dict_checked(model: torch.nn.Module,
                            state_dict: Dict[str, torch.Tensor],
                            strict: bool = True,
                            source: str = 'the checkpoint') -> dict:
    """Load ``state_dict`` into ``model`` and check that it fits.

    The model's own load-state-dict pre-hooks run first (a position
    embedding resized to another input size, the conversion of released
    weights), so the comparison is made on what the model accepts. BatchNorm
    ``num_batches_tracked`` buffers are not required. Unexpected keys under
    one of the model's ``ignorable_checkpoint_prefixes`` (a tuple of str
    attribute; e.g. PHA's training-only head for the TransReID model) are
    left out and logged rather than refused.

    Args:
        model (torch.nn.Module): The model, not wrapped.
        state_dict (dict): Parameter and buffer name to tensor.
        strict (bool): Refuse any missing key, unexpected key or tensor of
            another shape. When False these are logged as warnings and
            skipped. Defaults to True.
        source (str): What the state dict came from, for the messages.
            Defaults to ``'the checkpoint'``.

    Returns:
        dict: ``matched`` (int), ``missing``, ``unexpected``,
        ``mismatched`` and ``ignored`` (lists of keys; ``mismatched`` holds
        ``'key: [shape] in the checkpoint, [shape] in the model'`` lines).

    Raises:
        CheckpointMismatchError: If no key of the model was loaded; or, when
            ``strict``, if any key is missing, unexpected or of another
            shape. The message gives the counts and the first keys.
    """
    missing: List[str] = []
    unexpected: List[str] = []
    errors: List[str] = []
    metadata = getattr(state_dict, '_metadata', None)
    # The pre-hooks may rewrite the dict in place: work on a copy.
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata

    def load(module: torch.nn.Module, local: dict, prefix: str) -> None:
        local_metadata = {} if metadata is None else metadata.get(
            prefix[:-1], {})
        # strict=True here only makes torch list unexpected keys; nothing
        # raises inside _load_from_state_dict.
        module._load_from_state_dict(local, prefix, local_metadata, True,
                                     missing, unexpected, errors)
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = f'{prefix}{name}.'
                load(child, {
                    k: v
                    for k, v in local.items() if k.startswith(child_prefix)
                }, child_prefix)

    load(model, state_dict, '')
    errors = [_short_error(e) for e in errors]
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    ignorable = tuple(getattr(model, 'ignorable_checkpoint_prefixes', ()))
    ignored = [k for k in unexpected if ignorable and k.startswith(ignorable)]
    if ignored:
        unexpected = [k for k in unexpected if not k.startswith(ignorable)]
    incompatible = _IncompatibleKeys(missing, unexpected)
    for module in model.modules():
        for hook in module._load_state_dict_post_hooks.values():
            hook(module, incompatible)

    model_keys = [
        k for k in model.state_dict() if not k.endswith('num_batches_tracked')
    ]
    num_model_keys = len(model_keys)
    # Matched: model keys that the checkpoint provided (after the model's
    # top-level conversion hook). Keys that a submodule's hook fills in by
    # itself when absent (a default buffer) are not a match.
    provided = set(state_dict)
    matched = sum(1 for k in model_keys
                  if k in provided and k not in set(missing)) - len(errors)
    report = dict(
        matched=matched,
        missing=missing,
        unexpected=unexpected,
        mismatched=errors,
        ignored=ignored)
    summary = (f'{matched} of the model\'s {num_model_keys} keys loaded; '
               f'{len(missing)} missing from the checkpoint'
               f'{": " + _shown(missing) if missing else ""}; '
               f'{len(unexpected)} unexpected in it'
               f'{": " + _shown(unexpected) if unexpected else ""}; '
               f'{len(errors)} of another shape'
               f'{": " + _shown(errors) if errors else ""}')
    if matched <= 0:
        raise CheckpointMismatchError(
            f'no key of {source} matches the model ({summary}): it is not a '
            f'checkpoint of this model (config and checkpoint differ)')
    if strict and (missing or unexpected or errors):
        raise CheckpointMismatchError(
            f'{source} does not fit the model: {summary}. Use the config the '
            'checkpoint was trained with, or load non-strictly (--non-strict '
            'in tools/test.py, strict=False in init_model, strict_load=False '
            'in a config) to skip these keys')
    if missing or unexpected or errors:
        print_log(
            f'non-strict load of {source}: {summary}',
            logger='current',
            level=logging.WARNING)
    if ignored:
        print_log(
            f'{source}: left out {len(ignored)} keys that '
            f'{type(model).__name__} does not use ({_shown(ignored)})',
            logger='current',
            level=logging.INFO)
    return report
