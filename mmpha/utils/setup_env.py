"""Environment set-up: module registration and the default scope."""
import datetime
import warnings
from typing import Optional

from mmengine import DefaultScope
from mmengine.registry import Registry


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register every mmpha module and install the safe checkpoint loader.

    The entry points (``tools/*.py``, :func:`mmpha.apis.init_model`,
    :class:`~mmpha.engine.ReIDRunner`, the tests) call it once before they
    build anything.

    The packages to import are not named here: each registry in
    :mod:`mmpha.registry` declares where its modules live (its
    ``locations``), and this function asks every registry to import them
    (MMEngine's :meth:`~mmengine.registry.Registry.import_from_location`, the
    mechanism a registry also uses lazily when it builds in the ``mmpha``
    scope). ``mmpha.utils`` thereby stays at the bottom layer: it imports
    nothing above it, the knowledge of which package registers what is data
    kept in one place next to the registries, and a new component package
    is added by naming it in a registry's ``locations`` only.

    The checkpoint loader is installed here (and not when :mod:`mmpha` is
    imported) so that importing mmpha leaves MMEngine's loaders as they
    are; see :func:`~mmpha.utils.checkpoint.register_checkpoint_loader`.

    Args:
        init_default_scope (bool): Whether to make ``'mmpha'`` the default
            scope of the registries. When another scope is the current one,
            a new ``'mmpha'`` instance is created and made current. Defaults
            to True.
    """
    from mmpha import registry
    from .checkpoint import register_checkpoint_loader

    register_checkpoint_loader()
    registries = {
        id(obj): obj
        for obj in vars(registry).values() if isinstance(obj, Registry)
    }
    for obj in registries.values():
        obj.import_from_location()

    if not init_default_scope:
        return
    never_created = (
        DefaultScope.get_current_instance() is None
        or not DefaultScope.check_instance_created('mmpha'))
    if never_created:
        DefaultScope.get_instance('mmpha', scope_name='mmpha')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mmpha':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mmpha", '
                      '`register_all_modules` will force the current '
                      'default scope to be "mmpha". If this is not '
                      'expected, please set `init_default_scope=False`.')
        # Avoid clashing names with an existing instance.
        new_name = f'mmpha-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_name, scope_name='mmpha')


def setup_num_threads(cfg) -> None:
    """Apply ``env_cfg.num_threads``: PyTorch's intra-op threads.

    PyTorch starts one OpenMP thread per core. For a small model on a few
    cores shared with dataloader workers (or other jobs) the threads mostly
    wait for each other: the tiny SynthReID configs ran several times slower
    per iteration on a busy 2-core machine with 2 threads than with 1.
    ``OMP_NUM_THREADS`` in the environment takes precedence.

    Args:
        cfg (Config): The run's config; ``env_cfg.num_threads`` (int,
            optional) is read; None or absent keeps PyTorch's default.

    Raises:
        ValueError: If ``env_cfg.num_threads`` is not a positive int.
    """
    import os

    import torch
    num_threads = (cfg.get('env_cfg', None) or {}).get('num_threads', None)
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) \
            or num_threads < 1:
        raise ValueError('env_cfg.num_threads must be a positive int or '
                         f'None, got {num_threads!r}')
    if 'OMP_NUM_THREADS' not in os.environ:
        torch.set_num_threads(num_threads)


def apply_run_options(cfg,
                      config_path: str,
                      cfg_options: Optional[dict] = None,
                      launcher: str = 'none',
                      work_dir: Optional[str] = None):
    """Apply the options every mmpha tool shares to a loaded config.

    Args:
        cfg (Config): The config loaded from ``config_path``; changed in
            place.
        config_path (str): Path of the config file, which names the default
            work dir.
        cfg_options (dict, optional): ``--cfg-options`` overrides (dotted
            keys). Defaults to None.
        launcher (str): The job launcher. Defaults to ``'none'``.
        work_dir (str, optional): ``--work-dir``; it wins over the config's
            ``work_dir``, which wins over ``./work_dirs/<config name>``.
            Defaults to None.

    ``param_scheduler`` entries with ``end=None`` ("the end of training")
    are filled from ``train_cfg`` after the overrides, so that
    ``--cfg-options train_cfg.max_epochs=N`` moves them with it.

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: If ``train_cfg.max_epochs`` / ``max_iters`` is not a
            positive int, or an override of it leaves a scheduler whose
            numeric ``end`` equals the old length (see
            :func:`~mmpha.utils.config_check.check_max_epochs_override`).
    """
    import copy
    import os.path as osp

    from .config_check import (check_max_epochs_override, check_train_length,
                               resolve_scheduler_ends)
    if cfg_options is not None:
        before = dict(
            train_cfg=copy.deepcopy(cfg.get('train_cfg', None)),
            param_scheduler=copy.deepcopy(cfg.get('param_scheduler', None)))
        cfg.merge_from_dict(cfg_options)
        check_max_epochs_override(before, cfg, cfg_options)
    check_train_length(cfg)
    if cfg.get('param_scheduler', None) is not None:
        resolve_scheduler_ends(cfg.param_scheduler, cfg.get('train_cfg'))
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    setup_num_threads(cfg)
    return cfg
