"""Environment set-up: module registration and the default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmpha module so that it is registered.

    Args:
        init_default_scope (bool): Whether to make ``'mmpha'`` the default
            scope of the registries. When another scope is the current one,
            a new ``'mmpha'`` instance is created and made current. Defaults
            to True.
    """
    import mmpha.apis  # noqa: F401,F403
    import mmpha.datasets  # noqa: F401,F403
    import mmpha.engine  # noqa: F401,F403
    import mmpha.evaluation  # noqa: F401,F403
    import mmpha.models  # noqa: F401,F403
    import mmpha.structures  # noqa: F401,F403
    import mmpha.visualization  # noqa: F401,F403

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
