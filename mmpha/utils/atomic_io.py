"""Writing files so that a crash never leaves a half-written one.

Every write goes to a temporary file in the destination's directory, which is
flushed and ``fsync``'d, then renamed over the destination with
:func:`os.replace` (atomic on POSIX and Windows when both names are on one
file system), and finally the directory itself is ``fsync``'d so the rename
survives a power cut. At every moment the destination holds either its old
content or the complete new one. If anything fails (a full disk, a file-size
limit, an object that cannot be pickled), the temporary file is removed, the
destination is left untouched, and the error names the destination.

A process killed in the middle of a write can leave its temporary file
behind; :func:`remove_stale_temp_files` deletes those of processes that no
longer run.
"""
import errno
import os
import os.path as osp
import re
import secrets
from pathlib import Path
from typing import IO, Any, Callable, List, Union

import torch
from mmengine.fileio import LocalBackend, register_backend

PathLike = Union[str, Path]

#: Name under which :class:`AtomicLocalBackend` is registered in MMEngine's
#: file backends (``backend_args=dict(backend=ATOMIC_BACKEND)``).
ATOMIC_BACKEND = 'atomic_local'

# ``.NAME.tmp-PID-HEX``: hidden, and the writer's pid tells a stale file of a
# dead process from one that is being written right now.
_TEMP_PATTERN = re.compile(r'^\.(?P<name>.+)\.tmp-(?P<pid>\d+)-[0-9a-f]+$')

# fsync of a directory is unsupported on some file systems; the rename has
# happened and is as durable as the file system allows.
_DIR_FSYNC_UNSUPPORTED = (errno.EINVAL, errno.ENOTSUP, errno.EBADF,
                          errno.EACCES, errno.EPERM)


def temp_path_for(path: PathLike) -> str:
    """A fresh temporary name next to ``path``.

    Args:
        path (str | Path): The destination.

    Returns:
        str: ``DIR/.NAME.tmp-PID-RANDOM`` in the destination's directory.
    """
    path = osp.abspath(os.fspath(path))
    dirname, name = osp.split(path)
    return osp.join(dirname,
                    f'.{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}')


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _named_error(err: BaseException, path: str) -> BaseException:
    """The error to raise for a failed write of ``path``."""
    if isinstance(err, OSError) and err.errno is not None:
        # OSError(errno, text) builds the matching subclass
        # (FileNotFoundError, PermissionError, ...), so callers that catch
        # those still do.
        reason = err.strerror or str(err)
        return OSError(
            err.errno, f'could not write "{path}": {reason}; the file on '
            'disk (if any) is unchanged')
    if hasattr(err, 'add_note'):  # Python >= 3.11
        err.add_note(f'while writing "{path}"; the file on disk (if any) is '
                     'unchanged')
    return err


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file atomically with a callback that fills a binary stream.

    Args:
        path (str | Path): Destination. Its directory is created if missing.
        write (Callable[[IO[bytes]], Any]): Called once with the temporary
            file opened for binary writing; it must not close it.

    Raises:
        OSError: If creating, writing, syncing or renaming fails (``EFBIG``
            at a file-size limit, ``ENOSPC`` on a full disk, ...). The
            message names ``path``, the errno is the original one, the
            temporary file is removed and ``path`` is unchanged.
        Exception: Whatever ``write`` raises, with the same guarantees.
    """
    path = osp.abspath(os.fspath(path))
    dirname = osp.dirname(path)
    try:
        os.makedirs(dirname, exist_ok=True)
    except OSError as err:
        raise _named_error(err, path) from err
    while True:
        tmp = temp_path_for(path)
        try:
            # O_EXCL: never write into a file someone else opened; mode 0o666
            # lets the umask decide the permissions, as open() would.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise _named_error(err, path) from err
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        _remove_quietly(tmp)
        named = _named_error(err, path)
        if named is err:
            raise
        raise named from err
    try:
        _fsync_dir(dirname)
    except OSError as err:
        raise _named_error(err, path) from err


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path (str | Path): Destination.
        data (bytes): Content.

    Raises:
        OSError: As in :func:`atomic_write`; ``path`` is unchanged.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f'data must be bytes, got {type(data).__name__}')
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: PathLike,
                      text: str,
                      encoding: str = 'utf-8') -> None:
    """Write ``text`` to ``path`` atomically.

    Args:
        path (str | Path): Destination.
        text (str): Content.
        encoding (str): Text encoding. Defaults to ``'utf-8'``.

    Raises:
        OSError: As in :func:`atomic_write`; ``path`` is unchanged.
    """
    if not isinstance(text, str):
        raise TypeError(f'text must be str, got {type(text).__name__}')
    atomic_write(path, lambda f: f.write(text.encode(encoding)))


def atomic_torch_save(obj: Any, path: PathLike, **kwargs) -> None:
    """:func:`torch.save` ``obj`` to ``path`` atomically.

    Args:
        obj: The object to save (a state dict, a checkpoint dict, ...).
        path (str | Path): Destination.
        **kwargs: Passed to :func:`torch.save` (e.g. ``pickle_protocol``).

    Raises:
        OSError: As in :func:`atomic_write`; ``path`` is unchanged.
        Exception: What :func:`torch.save` raises for an object it cannot
            serialise; ``path`` is unchanged.
    """
    atomic_write(path, lambda f: torch.save(obj, f, **kwargs))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_files(dirname: PathLike) -> List[str]:
    """Delete the temporary files that killed writers left in a directory.

    Only files named like :func:`temp_path_for`'s whose writing process no
    longer runs are removed; a write in progress is never disturbed.

    Args:
        dirname (str | Path): The directory (not searched recursively).

    Returns:
        list[str]: The removed paths.
    """
    dirname = os.fspath(dirname)
    if not osp.isdir(dirname):
        return []
    removed = []
    for name in sorted(os.listdir(dirname)):
        match = _TEMP_PATTERN.match(name)
        if match is None or _pid_alive(int(match.group('pid'))):
            continue
        path = osp.join(dirname, name)
        if osp.isfile(path):
            _remove_quietly(path)
            removed.append(path)
    return removed


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend with atomic ``put`` and ``put_text``.

    Reading, listing and removing are :class:`mmengine.fileio.LocalBackend`'s.
    MMEngine's ``save_checkpoint`` serialises to memory and calls ``put``, so
    passing ``backend_args=dict(backend='atomic_local')`` makes every
    checkpoint write atomic. Registered under a new name by
    :func:`register_atomic_backend`; MMEngine's ``'local'`` is not changed.
    """

    def put(self, obj: bytes, filepath: PathLike) -> None:
        """Write bytes to ``filepath`` atomically.

        Args:
            obj (bytes): Data to write.
            filepath (str | Path): Destination; its directory is created.
        """
        atomic_write_bytes(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: PathLike,
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically.

        Args:
            obj (str): Text to write.
            filepath (str | Path): Destination; its directory is created.
            encoding (str): Text encoding. Defaults to ``'utf-8'``.
        """
        atomic_write_text(filepath, obj, encoding=encoding)


def register_atomic_backend() -> None:
    """Register :class:`AtomicLocalBackend` as ``'atomic_local'``.

    Idempotent; MMEngine's own backends are not touched.
    """
    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
