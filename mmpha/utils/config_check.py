"""Checks of a run's config that MMEngine does not make."""
from typing import Optional

from mmengine.config import Config


def check_pk_batch(cfg: Config) -> None:
    """Refuse a second statement of the training batch size.

    The shipped configs state P x K once: ``train_dataloader.batch_size``
    and ``batch_sampler=dict(type='PKBatchSampler', num_instances=K)``,
    which validates the pair when the loader is built. Two layouts would
    state the batch twice, and a mismatch would train silently on broken
    P x K batches, so both are refused when they disagree:

    - ``sampler=dict(type='PKSampler', batch_size=...)`` without a batch
      sampler (the dataloader cuts the sampler's stream by its own
      ``batch_size``);
    - ``batch_sampler=dict(type='PKBatchSampler', batch_size=...)``
      (MMEngine would use it and ignore the dataloader's).

    Args:
        cfg (Config): The run's config.

    Raises:
        ValueError: When such a second batch size differs from
            ``train_dataloader.batch_size``; the message names both keys.
    """
    loader = cfg.get('train_dataloader', None)
    if not loader:
        return
    loader_bs = loader.get('batch_size')
    for key in ('sampler', 'batch_sampler'):
        part = loader.get(key, None) or {}
        kind = str(part.get('type', '')).split('.')[-1]
        if kind not in ('PKSampler', 'PKBatchSampler'):
            continue
        part_bs = part.get('batch_size', None)
        if part_bs is not None and loader_bs != part_bs:
            raise ValueError(
                f'train_dataloader.batch_size={loader_bs} differs from '
                f'train_dataloader.{key}.batch_size={part_bs}: state P x K '
                'once, as train_dataloader.batch_size, and remove '
                f'{key}.batch_size')


def check_train_length(cfg: Config) -> None:
    """Check that ``train_cfg.max_epochs`` / ``max_iters`` are positive.

    A loop of zero or fewer epochs trains nothing and, with a scheduler
    derived from it, builds an empty schedule; both are refused when the
    config is read rather than after the model is built.

    Args:
        cfg (Config): The run's config.

    Raises:
        ValueError: If ``train_cfg.max_epochs`` or ``train_cfg.max_iters``
            is set and is not a positive int; the message names the key and
            the value.
    """
    train_cfg = cfg.get('train_cfg', None) or {}
    for key in ('max_epochs', 'max_iters'):
        value = train_cfg.get(key, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'train_cfg.{key} must be a positive int, got '
                             f'{value!r}')


def _scheduler_entries(param_scheduler) -> list:
    """``(name, scheduler dict)`` for every scheduler of a config entry.

    ``param_scheduler`` is one scheduler dict, a list of them, or (one
    optimiser each) a dict of such lists.
    """
    if param_scheduler is None:
        return []
    if isinstance(param_scheduler, dict) and 'type' not in param_scheduler:
        entries = []
        for name, value in param_scheduler.items():
            entries += [(f'{name}.{sub}', s)
                        for sub, s in _scheduler_entries(value)]
        return entries
    if isinstance(param_scheduler, dict):
        return [('0', param_scheduler)]
    return [(str(i), s) for i, s in enumerate(param_scheduler)]


def resolve_scheduler_ends(param_scheduler, train_cfg: Optional[dict]):
    """Fill every ``end=None`` of the param schedulers from the train loop.

    ``end=None`` in a scheduler means "the end of training": it becomes
    ``train_cfg.max_epochs`` for a ``by_epoch`` scheduler of an epoch-based
    loop, ``train_cfg.max_iters`` for a per-iteration scheduler of an
    iteration-based loop. A cosine's ``T_max`` then becomes ``end - begin``
    (MMEngine's default). Schedules written this way follow
    ``--cfg-options train_cfg.max_epochs=N``; explicit numbers stay as
    written. The entries are changed in place; resolving twice changes
    nothing.

    Args:
        param_scheduler (dict | list | None): The ``param_scheduler`` entry
            of a config.
        train_cfg (dict, optional): The ``train_cfg`` entry.

    Returns:
        The same ``param_scheduler`` object.

    Raises:
        ValueError: If a scheduler with ``end=None`` also sets ``T_max``
            (which would not follow), has no loop length to follow (no
            ``train_cfg``, or ``by_epoch`` not matching the loop), or begins
            at or after the end of training.
    """
    train_cfg = train_cfg or {}
    for name, scheduler in _scheduler_entries(param_scheduler):
        if 'end' not in scheduler or scheduler['end'] is not None:
            continue
        key = f'param_scheduler[{name}]'
        by_epoch = scheduler.get('by_epoch', True)
        length_key = 'max_epochs' if by_epoch else 'max_iters'
        length = train_cfg.get(length_key, None)
        if length is None:
            raise ValueError(
                f'{key} ({scheduler.get("type")}) has end=None, meaning the '
                f'end of training, but train_cfg has no {length_key} '
                f'(by_epoch={by_epoch}); got train_cfg={dict(train_cfg)}')
        if scheduler.get('T_max', None) is not None:
            raise ValueError(
                f'{key} has end=None (the end of training) and '
                f'T_max={scheduler["T_max"]}, which would not follow '
                f'train_cfg.{length_key}; remove T_max (it is end - begin)')
        begin = scheduler.get('begin', 0)
        if length <= begin:
            raise ValueError(
                f'{key} ({scheduler.get("type")}) begins at {begin} and ends '
                f'with the training, but train_cfg.{length_key}={length}: '
                f'the schedule would be empty; train for more than {begin}')
        scheduler['end'] = length
        if 'CosineAnnealing' in str(scheduler.get('type', '')):
            scheduler['T_max'] = length - begin
    return param_scheduler


def check_max_epochs_override(old_cfg: dict, cfg: Config,
                              cfg_options: Optional[dict]) -> None:
    """Refuse a changed loop length that a numeric scheduler end ignores.

    When ``--cfg-options`` changes ``train_cfg.max_epochs`` (or
    ``max_iters``) but not ``param_scheduler``, a scheduler whose ``end``
    was written as the old length (rather than ``end=None``) would keep
    ending there: the run would silently follow neither schedule.

    Args:
        old_cfg (dict): ``train_cfg`` and ``param_scheduler`` before the
            overrides (plain copies).
        cfg (Config): The config after the overrides.
        cfg_options (dict, optional): The overrides.

    Raises:
        ValueError: Naming each such scheduler key, its value and the new
            length.
    """
    if not cfg_options or any(
            k == 'param_scheduler' or k.startswith('param_scheduler.')
            for k in cfg_options):
        return
    old_train = old_cfg.get('train_cfg') or {}
    new_train = cfg.get('train_cfg', None) or {}
    stale = []
    for length_key, by_epoch in (('max_epochs', True), ('max_iters', False)):
        old, new = old_train.get(length_key), new_train.get(length_key)
        if old is None or old == new:
            continue
        for name, scheduler in _scheduler_entries(
                old_cfg.get('param_scheduler')):
            if scheduler.get('by_epoch', True) != by_epoch:
                continue
            for field in ('end', 'T_max'):
                if scheduler.get(field, None) == old:
                    stale.append(f'param_scheduler[{name}].{field}={old}')
        if stale:
            raise ValueError(
                f'train_cfg.{length_key} changed from {old} to {new}, but '
                f'{", ".join(stale)} still equal the old value and would not '
                'follow. Write end=None (the end of training) without T_max '
                'in the config, or override param_scheduler as well')
