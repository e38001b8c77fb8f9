"""Remove pretrained-weight initialisation from a model config.

A model built without its pretrained weights (a random initialisation for
shape, FLOPs and speed analyses, benchmarks and tests) must not try to read
weight files that may not exist.
"""
from typing import Any


def strip_pretrained(cfg: Any) -> int:
    """Remove every ``Pretrained`` initialisation from a config, in place.

    An ``init_cfg`` of type ``'Pretrained'`` becomes None; in a list of
    initialisers only the ``'Pretrained'`` entries go (the list becomes None
    if nothing is left). A non-empty ``pretrained`` string key becomes None.
    Nested dicts and lists are searched at any depth.

    Args:
        cfg (dict | list | tuple): A (model) config; anything else is left
            alone.

    Returns:
        int: Number of entries removed.

    Examples:
        >>> cfg = dict(backbone=dict(init_cfg=dict(type='Pretrained',
        ...                                        checkpoint='a.pth')))
        >>> strip_pretrained(cfg), cfg
        (1, {'backbone': {'init_cfg': None}})
    """
    if isinstance(cfg, (list, tuple)):
        return sum(strip_pretrained(item) for item in cfg)
    if not isinstance(cfg, dict):
        return 0
    removed = 0
    for key, value in list(cfg.items()):
        if key == 'init_cfg':
            entries = value if isinstance(value, list) else [value]
            kept = [
                entry for entry in entries
                if not (isinstance(entry, dict)
                        and entry.get('type') == 'Pretrained')
            ]
            if len(kept) < len(entries):
                removed += len(entries) - len(kept)
                cfg[key] = (kept or None) if isinstance(value, list) else None
        elif key == 'pretrained' and isinstance(value, str) and value:
            cfg[key] = None
            removed += 1
        else:
            removed += strip_pretrained(value)
    return removed
