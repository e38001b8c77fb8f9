"""State-dict key names of earlier mmpha versions, mapped onto today's."""
from typing import Dict, List, Tuple

import torch
from mmengine.logging import print_log

#: ``(old prefix, new prefix)``: the JPM branch moved out of the head into
#: its own module (``ReIDModel.jpm``).
LEGACY_KEY_PREFIXES: Tuple[Tuple[str, str], ...] = (
    ('head.jpm_block.', 'jpm.block.'),
    ('head.jpm_norm.', 'jpm.norm.'),
    ('head.jpm_shift', 'jpm.jpm_shift'),
)


def map_legacy_keys(state_dict: Dict[str, torch.Tensor],
                    prefix: str = '') -> List[Tuple[str, str]]:
    """Rename the keys of an earlier layout in place.

    Args:
        state_dict (dict[str, torch.Tensor]): The dict being loaded.
        prefix (str): The model's prefix in it. Defaults to ``''``.

    Returns:
        list[tuple[str, str]]: The ``(old, new)`` key pairs renamed.
    """
    renamed = []
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        for old, new in LEGACY_KEY_PREFIXES:
            if rest.startswith(old):
                new_key = prefix + new + rest[len(old):]
                if new_key in state_dict:
                    raise ValueError(
                        f'the checkpoint holds both {key} (earlier layout) '
                        f'and {new_key}: it mixes two layouts')
                state_dict[new_key] = state_dict.pop(key)
                renamed.append((key, new_key))
                break
    return renamed


def legacy_keys_pre_hook(module: torch.nn.Module, state_dict: dict,
                         prefix: str, *args, **kwargs) -> None:
    """``load_state_dict`` pre-hook: :func:`map_legacy_keys`, logged.

    Registered on :class:`~mmpha.models.ReIDModel`, so checkpoints saved
    before the JPM branch became its own module load everywhere
    (``load_from``, ``init_cfg``, tools) with identical weights.

    Args:
        module (torch.nn.Module): The model (unused).
        state_dict (dict): The dict being loaded, changed in place.
        prefix (str): The model's prefix in it.
        *args: The other arguments of a load pre-hook (unused).
        **kwargs: Unused.
    """
    renamed = map_legacy_keys(state_dict, prefix)
    if renamed:
        used = [(old, new) for old, new in LEGACY_KEY_PREFIXES if any(
            key[len(prefix):].startswith(old) for key, _ in renamed)]
        print_log(
            f'Checkpoint of an earlier layout: renamed {len(renamed)} keys (' +
            ', '.join(f'{old}* -> {new}*' for old, new in used) + ')',
            logger='current')
