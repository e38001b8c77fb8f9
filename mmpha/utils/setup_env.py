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
