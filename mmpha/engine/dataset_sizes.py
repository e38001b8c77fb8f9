"""Model sizes read from the training set: ``num_classes='auto'``.

A model config may write ``'auto'`` for the sizes that the training data
decides, instead of restating them:

- ``num_classes='auto'`` (any head, any depth of the model config): the
  train set's ``num_classes`` meta information;
- ``camera_num='auto'`` (the side-information embedding): its
  ``num_cameras``;
- ``view_num='auto'``: its ``num_views`` when above 1, else 0 (no view
  embedding).

:class:`~mmpha.engine.ReIDRunner` fills them before it builds the model,
from ``train_dataloader.dataset`` (for a test run too, so the classifier
matches the checkpoint), and writes the numbers into the config it dumps and
stores in checkpoints. For a :class:`~mmpha.datasets.CombinedReIDDataset`
these are the combined identities and offset cameras.
"""
import copy
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from mmpha.registry import DATASETS

#: The placeholder value.
AUTO = 'auto'

#: Model config key -> the train set meta information it is read from.
AUTO_KEYS: Dict[str, str] = dict(
    num_classes='num_classes', camera_num='num_cameras', view_num='num_views')


def find_auto_sizes(node: Any, path: str = 'model') -> List[Tuple[str, str]]:
    """Where a model config asks for a size from the data.

    Args:
        node (Any): A model config (dicts and lists, walked recursively).
        path (str): The dotted name of ``node``, for messages. Defaults to
            ``'model'``.

    Returns:
        list[tuple[str, str]]: ``(dotted path, key)`` of every
        ``key='auto'`` with ``key`` in :data:`AUTO_KEYS`.
    """
    found: List[Tuple[str, str]] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            sub = f'{path}.{key}'
            if key in AUTO_KEYS and value == AUTO:
                found.append((sub, key))
            else:
                found += find_auto_sizes(value, sub)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += find_auto_sizes(value, f'{path}[{i}]')
    return found


def size_from_meta(key: str, metainfo: Mapping, where: str) -> int:
    """The value of one ``'auto'`` model key from the train set's meta.

    Args:
        key (str): A key of :data:`AUTO_KEYS`.
        metainfo (Mapping): The train set's meta information.
        where (str): The config path, for messages.

    Returns:
        int: The size.

    Raises:
        KeyError: When the meta information lacks the key.
        ValueError: When it is not a positive int.
    """
    meta_key = AUTO_KEYS[key]
    if meta_key not in metainfo:
        raise KeyError(
            f'{where}={AUTO!r} is read from the train set\'s meta '
            f'information "{meta_key}", which it lacks (it has '
            f'{sorted(metainfo)}). Use a re-ID dataset (BaseReIDDataset, '
            'CombinedReIDDataset) or state the number.')
    value = metainfo[meta_key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'the train set\'s {meta_key}={value!r} cannot '
                         f'size {where}: expected a positive int.')
    if key == 'view_num':
        return value if value > 1 else 0
    return value


def resolve_auto_sizes(model_cfg: Any, metainfo: Mapping) -> Dict[str, int]:
    """Replace every ``'auto'`` size of a model config, in place.

    Args:
        model_cfg (Any): The model config.
        metainfo (Mapping): The train set's meta information.

    Returns:
        dict[str, int]: The filled values by dotted path.
    """
    filled: Dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key in list(node):
                sub = f'{path}.{key}'
                if key in AUTO_KEYS and node[key] == AUTO:
                    node[key] = filled[sub] = size_from_meta(
                        key, metainfo, sub)
                else:
                    walk(node[key], sub)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f'{path}[{i}]')

    walk(model_cfg, 'model')
    return filled


def build_train_set(train_dataloader: Optional[Mapping],
                    needed: List[str],
                    default_scope: Optional[str] = None):
    """Build the training set whose meta information sizes the model.

    Args:
        train_dataloader (Mapping, optional): The ``train_dataloader``
            config (its ``dataset`` a config or a built dataset).
        needed (list[str]): The ``'auto'`` paths, for messages.
        default_scope (str, optional): The registry scope to build in (the
            config's ``default_scope``; the runner has not set it yet).
            None keeps the current one. Defaults to None.

    Returns:
        The built dataset (fully initialised).

    Raises:
        ValueError: When there is no train dataset to read from.
        FileNotFoundError, ValueError: The dataset's own errors, with the
            ``'auto'`` keys named.
    """
    what = ', '.join(needed)
    dataset = (train_dataloader or {}).get('dataset') if isinstance(
        train_dataloader, Mapping) else None
    if dataset is None:
        raise ValueError(
            f'{what} = {AUTO!r} is read from train_dataloader.dataset, but '
            'the config has no train_dataloader.dataset; state the numbers '
            'in the model config.')
    if isinstance(dataset, Mapping):
        try:
            with DefaultScope.overwrite_default_scope(default_scope):
                dataset = DATASETS.build(copy.deepcopy(dict(dataset)))
        except (FileNotFoundError, ValueError) as err:
            raise type(err)(
                f'{what} = {AUTO!r} is read from the train set, which '
                f'could not be loaded: {err} (a run without the training '
                'data needs the numbers stated in the model config)') from err
    if not getattr(dataset, '_fully_initialized', True):
        dataset.full_init()
    return dataset


def fill_auto_sizes(model_cfg: Any,
                    train_dataloader: Optional[Mapping],
                    other_cfgs: Tuple[Any, ...] = (),
                    default_scope: Optional[str] = None
                    ) -> Tuple[Dict[str, int], Any]:
    """Fill the ``'auto'`` sizes of a model config from the train set.

    Args:
        model_cfg (Any): The model config (changed in place).
        train_dataloader (Mapping, optional): The ``train_dataloader``
            config; it is not changed.
        other_cfgs (tuple): More copies of the model config to fill with the
            same values (the runner's ``cfg.model``). Defaults to ``()``.
        default_scope (str, optional): The registry scope to build the train
            set in. Defaults to None (the current one).

    Returns:
        tuple[dict[str, int], Any]: The filled values by dotted path, and
        the built train set (give it to the loader so that the data is not
        read twice); ``({}, None)`` when the config has no ``'auto'``.
    """
    needed = [path for path, _ in find_auto_sizes(model_cfg)]
    if not needed:
        return {}, None
    dataset = build_train_set(train_dataloader, needed, default_scope)
    filled = resolve_auto_sizes(model_cfg, dataset.metainfo)
    for other in other_cfgs:
        if other is not None and other is not model_cfg:
            resolve_auto_sizes(other, dataset.metainfo)
    print_log(
        'Sizes from the train set: ' +
        ', '.join(f'{path}={value}' for path, value in filled.items()),
        logger='current')
    return filled, dataset
