"""Loading checkpoints without running code from them.

A ``.pth`` file is a pickle, and unpickling can call any function the file
names. mmpha therefore reads every checkpoint, local or downloaded, with
torch's ``weights_only`` unpickler, which builds tensors and plain Python
containers and refuses every other global. On top of torch's own list it
accepts exactly the objects that MMEngine writes into a training checkpoint:

* the message hub's :class:`~mmengine.logging.HistoryBuffer`;
* numpy arrays, scalars and dtypes (their reconstructors, under both the
  numpy 1 and numpy 2 module names);
* ``getattr``, but only as the restricted :func:`_closed_getattr`: a
  ``HistoryBuffer`` pickles its table of statistics methods as
  ``getattr(HistoryBuffer, 'mean')`` and the like, and those four pairs are
  the only ones it resolves. A generic ``getattr`` would let a pickle walk
  from any allowed function to ``eval`` or ``os.system``.

Before the unpickler runs, the globals that a zip checkpoint names are
listed without executing anything, and a file that names one outside the
list is refused with :class:`UnsafeCheckpointError` naming the file and the
globals. A legacy (non-zip) file is refused by the unpickler at the first
such global, still before any code of the file runs.

Full unpickling is available only as an explicit opt-in for files the user
trusts: :func:`set_unsafe_load` (the ``unsafe_load=True`` config key and the
tools' ``--unsafe-load`` flag), which logs a warning for every file it loads
that way.

The module is longer than most on purpose: the allow-list, every way a file
reaches it (local, downloaded, named by a config) and the refusal messages
stay in one file that a security review reads top to bottom.
"""
import contextlib
import hashlib
import os
import os.path as osp
import pickle
import re
import tempfile
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import CheckpointLoader

MapLocation = Optional[Union[str, torch.device, Callable, dict]]

#: ``(object, attribute)`` pairs that :func:`_closed_getattr` resolves: the
#: default statistics methods that every ``HistoryBuffer`` pickles.
ALLOWED_ATTRIBUTES: Tuple[Tuple[Any, str], ...] = tuple(
    (HistoryBuffer, name) for name in ('min', 'max', 'current', 'mean'))

_UNSAFE_LOAD = False


class CheckpointLoadError(RuntimeError):
    """A checkpoint cannot be read: truncated, corrupt or not a checkpoint."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint names objects that mmpha refuses to unpickle."""


def _closed_getattr(obj: Any, name: str) -> Any:
    """``getattr`` for the pairs in :data:`ALLOWED_ATTRIBUTES` only.

    Registered in place of ``builtins.getattr`` for the length of one load.

    Raises:
        pickle.UnpicklingError: For any other pair.
    """
    for allowed_obj, allowed_name in ALLOWED_ATTRIBUTES:
        if obj is allowed_obj and name == allowed_name:
            return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'builtins.getattr({_describe(obj)}, {name!r}) is not one of the '
        'attribute look-ups an MMEngine checkpoint makes')


def _describe(obj: Any) -> str:
    module = getattr(obj, '__module__', None)
    qualname = getattr(obj, '__qualname__', None)
    if module and qualname:
        return f'{module}.{qualname}'
    return f'<{type(obj).__name__} object>'


def trusted_checkpoint_globals(
) -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals allowed on top of torch's ``weights_only`` defaults.

    Returns:
        list: Entries for :func:`torch.serialization.safe_globals`: the
        message hub's ``HistoryBuffer``; numpy's array, scalar and dtype
        reconstructors under the module names of numpy 1 and 2; numpy's dtype
        classes; and :func:`_closed_getattr` in the place of
        ``builtins.getattr``. Nothing here can call arbitrary code.
    """
    multiarray = getattr(np, '_core', None) or np.core
    reconstruct = multiarray.multiarray._reconstruct
    scalar = multiarray.multiarray.scalar
    allowed: List[Union[Callable, Tuple[Callable, str]]] = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (_closed_getattr, 'builtins.getattr'),
    ]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed.append((reconstruct, f'{module}._reconstruct'))
        allowed.append((scalar, f'{module}.scalar'))
    # numpy >= 1.25 pickles dtypes through their own classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes) if
            name.endswith('DType') and isinstance(getattr(dtypes, name), type)
            and issubclass(getattr(dtypes, name), np.dtype)
        ]
    return allowed


@contextlib.contextmanager
def _allow_training_state() -> Iterator[None]:
    with torch.serialization.safe_globals(trusted_checkpoint_globals()):
        yield


def set_unsafe_load(enabled: bool) -> None:
    """Switch full unpickling of checkpoints on or off for this process.

    Off by default. Turn it on only for files you trust: a pickle can run any
    code when it is fully unpickled. Each file loaded this way logs a
    warning.

    Args:
        enabled (bool): Whether to load checkpoints with
            ``weights_only=False``.

    Raises:
        TypeError: If ``enabled`` is not a bool.
    """
    global _UNSAFE_LOAD
    if not isinstance(enabled, bool):
        raise TypeError(f'unsafe_load must be a bool, got {enabled!r}')
    if enabled and not _UNSAFE_LOAD:
        print_log(
            'unsafe_load is on: checkpoints are fully unpickled, which runs '
            'any code they contain. Use it only for files you trust.',
            logger='current',
            level=30)
    _UNSAFE_LOAD = enabled


def unsafe_load_enabled() -> bool:
    """Whether :func:`set_unsafe_load` switched full unpickling on."""
    return _UNSAFE_LOAD


@contextlib.contextmanager
def unsafe_load(enabled: bool = True) -> Iterator[None]:
    """Context manager form of :func:`set_unsafe_load`.

    Args:
        enabled (bool): The setting inside the block. Defaults to True.
    """
    previous = _UNSAFE_LOAD
    set_unsafe_load(enabled)
    try:
        yield
    finally:
        set_unsafe_load(previous)


def setup_checkpoint_loading(cfg) -> None:
    """Apply the config's ``unsafe_load`` key (default False).

    Args:
        cfg (Config | dict): The run's config.

    Raises:
        TypeError: If ``unsafe_load`` is not a bool.
    """
    value = cfg.get('unsafe_load', False)
    if not isinstance(value, bool):
        raise TypeError(
            f'config key unsafe_load must be True or False, got {value!r}')
    set_unsafe_load(value)


def find_unsafe_globals(filename: str) -> Optional[List[str]]:
    """List the globals of a checkpoint outside mmpha's allowed set.

    Reads the pickle opcodes of a zip checkpoint without executing them.

    Args:
        filename (str): Path of the checkpoint file.

    Returns:
        list[str] | None: The offending globals as ``module.name`` (empty when
        there is none), or None for a file that is not a zip checkpoint (a
        legacy ``torch.save`` file), whose globals are checked while it is
        unpickled instead.
    """
    import zipfile
    if not zipfile.is_zipfile(filename):
        return None
    with _allow_training_state():
        return list(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))


def _existing_file(filename: str) -> str:
    """``filename`` with ``~`` expanded, if it is a regular file.

    Raises:
        FileNotFoundError: If it is not.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint file "{filename}" does not exist (or is not a '
            'regular file)')
    return filename


def _refuse_unsafe_globals(filename: str) -> Optional[List[str]]:
    """Scan a checkpoint with :func:`find_unsafe_globals` and refuse it if
    it names a global outside the allowed set.

    Returns:
        list[str] | None: What :func:`find_unsafe_globals` returned (empty,
        or None for a legacy non-zip file).

    Raises:
        CheckpointLoadError: If the file cannot be read.
        UnsafeCheckpointError: If it names a global outside the allowed set.
    """
    try:
        unsafe = find_unsafe_globals(filename)
    except Exception as err:  # a truncated or corrupt archive
        raise CheckpointLoadError(
            f'Cannot read checkpoint "{filename}": {err}') from err
    if unsafe:
        raise _refusal(filename, ', '.join(unsafe))
    return unsafe


def check_checkpoint(filename: str) -> None:
    """Refuse a local checkpoint that names objects outside the allowed set.

    Runs nothing from the file: the globals are listed from the pickle
    opcodes, then the file is unpickled by the restricted unpickler with its
    tensors memory-mapped (a zip checkpoint is not read into memory), which
    is the only way to see which attribute each ``getattr`` asks for. Tools
    call it before they create a work dir, so that a refused file leaves
    nothing behind.

    Args:
        filename (str): Path of the checkpoint file.

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If it names a global outside the allowed set
            (and :func:`set_unsafe_load` is off).
    """
    filename = _existing_file(filename)
    if _UNSAFE_LOAD:
        return
    unsafe = _refuse_unsafe_globals(filename)
    _safe_torch_load(filename, 'cpu', mmap=unsafe is not None)


def _safe_torch_load(filename: str,
                     map_location: MapLocation,
                     mmap: bool = False) -> Any:
    try:
        with _allow_training_state():
            return torch.load(
                filename,
                map_location=map_location,
                weights_only=True,
                mmap=mmap)
    except pickle.UnpicklingError as err:
        raise _refusal(filename, _offending_global(str(err))) from err
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        # torch's errors for a truncated or corrupt file
        raise CheckpointLoadError(
            f'Cannot read checkpoint "{filename}": {err}') from err


def _refusal(filename: str, what: str) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f'Refusing to unpickle checkpoint "{filename}": it names {what}, '
        'which is neither a tensor nor part of the training state that '
        'MMEngine writes, and unpickling it could run code from the file. '
        'If you trust the file, load it with --unsafe-load (tools), '
        'unsafe_load=True (config) or mmpha.utils.unsafe_load() (Python), '
        'or re-save its tensors as a plain state_dict. See '
        'docs/en/notes/security.md.')


def load_local_checkpoint(filename: str,
                          map_location: MapLocation = None,
                          logger=None) -> dict:
    """Load a local checkpoint without running code from it.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (str | torch.device | Callable | dict, optional): As in
            :func:`torch.load`. Defaults to None.
        logger: Unused; kept for MMEngine's loader signature.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If the file names objects outside the allowed
            set; the message names the file and the offending globals.
        CheckpointLoadError: If the file is truncated or not a checkpoint.
    """
    filename = _existing_file(filename)
    if _UNSAFE_LOAD:
        print_log(
            f'Fully unpickling "{filename}" (unsafe_load is on): any code '
            'it contains runs now.',
            logger='current',
            level=30)
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    _refuse_unsafe_globals(filename)
    return _safe_torch_load(filename, map_location)


def _offending_global(message: str) -> str:
    """Shorten torch's refusal to the global it names."""
    for pattern in (r'GLOBAL (\S+) was not an allowed global',
                    r'unsupported GLOBAL (\S+) whose module',
                    r'(builtins\.getattr\(.*?\)) is not one of',
                    r'unrecognized function (.+)$'):
        match = re.search(pattern, message)
        if match:
            return match.group(1)
    return f'an object outside the allowed set ({message.splitlines()[0]})'


def _cache_dir(model_dir: Optional[str]) -> str:
    if model_dir is not None:
        return osp.expanduser(model_dir)
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def download_checkpoint(url: str,
                        model_dir: Optional[str] = None,
                        progress: bool = False) -> Tuple[str, bool]:
    """Download a checkpoint into the cache, atomically.

    The file is written to a temporary name in the cache directory, flushed,
    fsync'd and renamed, so an interrupted download never leaves a partial
    file under the final name. A file name ending in ``-<hex>.pth`` (the
    torch hub convention) must match the prefix of its SHA-256.

    Args:
        url (str): ``http://`` or ``https://`` address.
        model_dir (str, optional): Cache directory. Defaults to None:
            ``<torch hub dir>/checkpoints``.
        progress (bool): Unused; kept for MMEngine's loader signature.

    Returns:
        tuple[str, bool]: The cached path, and whether this call created it.

    Raises:
        ValueError: If the URL names no file, or the hash does not match.
        OSError: If the download fails; no file is left behind.
    """
    name = osp.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise ValueError(f'checkpoint URL "{url}" does not name a file')
    cache = _cache_dir(model_dir)
    os.makedirs(cache, exist_ok=True)
    target = osp.join(cache, name)
    if osp.isfile(target):
        return target, False
    fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.part', dir=cache)
    try:
        sha256 = hashlib.sha256()
        size = 0
        with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(url) as src:
            expected_size = src.headers.get('Content-Length')
            for chunk in iter(lambda: src.read(1 << 20), b''):
                sha256.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_size is not None and size != int(expected_size):
            raise OSError(f'download of "{url}" stopped after {size} of '
                          f'{expected_size} bytes')
        expected = re.search(r'-([0-9a-f]{8,64})\.[^.]+$', name)
        if expected and not sha256.hexdigest().startswith(expected.group(1)):
            raise ValueError(f'checkpoint downloaded from "{url}" has SHA-256 '
                             f'{sha256.hexdigest()}, but its name promises '
                             f'{expected.group(1)}...')
        os.replace(tmp, target)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return target, True


def load_remote_checkpoint(filename: str,
                           map_location: MapLocation = None,
                           model_dir: Optional[str] = None,
                           progress: bool = False,
                           logger=None) -> dict:
    """Download a checkpoint to the cache and load it like a local one.

    A downloaded file that is refused is removed from the cache again.

    Args:
        filename (str): ``http://`` or ``https://`` address.
        map_location (str | torch.device | Callable | dict, optional): As in
            :func:`torch.load`. Defaults to None.
        model_dir (str, optional): Cache directory. Defaults to None.
        progress (bool): Unused. Defaults to False.
        logger: Unused; kept for MMEngine's loader signature.

    Returns:
        dict: The loaded checkpoint.
    """
    path, created = download_checkpoint(filename, model_dir, progress)
    try:
        return load_local_checkpoint(path, map_location)
    except UnsafeCheckpointError as err:
        if created:
            os.remove(path)
        raise UnsafeCheckpointError(
            f'{err} (downloaded from "{filename}"'
            f'{"; removed from the cache" if created else ""})') from err


def resolve_checkpoint(filename: str) -> str:
    """Check a checkpoint before a run uses it; download a remote one.

    For a local path: :func:`check_checkpoint`. For an ``http(s)://``
    address: the file is downloaded to the cache (atomically) and checked
    there; a refused download is removed.

    Args:
        filename (str): Path or address of the checkpoint.

    Returns:
        str: The local path that was checked.
    """
    if filename.startswith(('http://', 'https://')):
        path, created = download_checkpoint(filename)
        try:
            check_checkpoint(path)
        except UnsafeCheckpointError:
            if created:
                os.remove(path)
            raise
        return path
    if '://' in filename:  # other MMEngine schemes load through their own
        return filename
    check_checkpoint(filename)
    return filename


def config_checkpoints(cfg) -> List[str]:
    """The checkpoints a config will load: ``load_from`` and ``init_cfg``.

    Args:
        cfg (Config | dict): The run's config.

    Returns:
        list[str]: ``load_from`` (when set) and the ``checkpoint`` of every
        ``init_cfg=dict(type='Pretrained', ...)`` in ``cfg.model``, in that
        order.
    """
    found: List[str] = []
    load_from = cfg.get('load_from', None)
    if load_from:
        found.append(str(load_from))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained' and node.get('checkpoint'):
                found.append(str(node['checkpoint']))
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(cfg.get('model', None))
    return found


def check_config_checkpoints(cfg) -> List[str]:
    """Check every checkpoint a config names before a run starts.

    Entry points call it before they build a Runner (which creates the work
    dir and its logs), so a refused file stops the run with nothing created
    or changed. Remote files are downloaded to the cache and checked there.

    Args:
        cfg (Config | dict): The run's config; ``unsafe_load`` is applied
            first.

    Returns:
        list[str]: The local paths that were checked.

    Raises:
        FileNotFoundError: If a local checkpoint does not exist; the message
            names the config key.
        UnsafeCheckpointError: If a checkpoint is refused.
    """
    setup_checkpoint_loading(cfg)
    checked = []
    for filename in config_checkpoints(cfg):
        if not filename.startswith(('http://', 'https://')) and \
                '://' not in filename and not osp.isfile(
                    osp.expanduser(filename)):
            raise FileNotFoundError(
                f'checkpoint "{filename}" named by the config (load_from or '
                "an init_cfg of type 'Pretrained') does not exist")
        checked.append(resolve_checkpoint(filename))
    return checked


def register_checkpoint_loader() -> None:
    """Make MMEngine load local and http(s) files through this module.

    Idempotent. Called by :func:`~mmpha.utils.register_all_modules` (and
    so by every entry point: the tools, :func:`mmpha.apis.init_model`,
    :class:`~mmpha.engine.ReIDRunner`), not at import, so that importing
    mmpha leaves MMEngine's loaders as they are; after the call every
    ``load_from`` / ``--resume`` / ``init_cfg`` checkpoint goes through it.
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_remote_checkpoint,
        force=True)
