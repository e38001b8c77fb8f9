"""The files a training run leaves: the ``last_checkpoint`` pointer and
checkpoints whose weights are all finite.

The pointer ``WORK_DIR/last_checkpoint`` holds one line: the latest complete
checkpoint, as a path relative to the work dir with ``/`` separators
(``epoch_3.pth``), so a copied or moved work dir resumes from its own files.
It is absolute only when the checkpoints live outside the work dir
(``out_dir`` elsewhere) and a URI when they are remote. Readers join a
relative pointer with the work dir (:func:`read_last_checkpoint`).
"""
import glob
import logging
import os
import os.path as osp
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from .atomic_io import PathLike, atomic_write_text
from .checkpoint import load_local_checkpoint

#: File name of the pointer in the work dir (MMEngine's name).
LAST_CHECKPOINT = 'last_checkpoint'


def _is_uri(path: str) -> bool:
    return '://' in path


def pointer_value(work_dir: PathLike, ckpt_path: PathLike) -> str:
    """What the pointer stores for a checkpoint.

    Args:
        work_dir (str | Path): The run's work dir.
        ckpt_path (str | Path): The checkpoint (absolute, relative to the
            current directory, or a URI).

    Returns:
        str: ``ckpt_path`` relative to ``work_dir`` with ``/`` separators
        when it lies inside ``work_dir``; otherwise its absolute path (a URI
        unchanged).
    """
    ckpt_path = os.fspath(ckpt_path)
    if _is_uri(ckpt_path):
        return ckpt_path
    ckpt_abs = osp.abspath(ckpt_path)
    try:
        rel = osp.relpath(ckpt_abs, osp.abspath(os.fspath(work_dir)))
    except ValueError:  # another drive on Windows
        return ckpt_abs
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return ckpt_abs
    return rel.replace(os.sep, '/')


def write_last_checkpoint(work_dir: PathLike, ckpt_path: PathLike) -> str:
    """Point the work dir's ``last_checkpoint`` at a complete checkpoint.

    Written atomically: a crash leaves the old pointer or the new one.

    Args:
        work_dir (str | Path): The run's work dir.
        ckpt_path (str | Path): The checkpoint, already complete on disk.

    Returns:
        str: The stored value (see :func:`pointer_value`).
    """
    value = pointer_value(work_dir, ckpt_path)
    atomic_write_text(osp.join(os.fspath(work_dir), LAST_CHECKPOINT), value)
    return value


def read_last_checkpoint(work_dir: PathLike) -> Optional[str]:
    """The checkpoint that a work dir's ``last_checkpoint`` names.

    A relative pointer is resolved against ``work_dir``. An absolute one
    (written by MMEngine's own hook, or for an ``out_dir`` outside the work
    dir) is accepted; when it names a file that is gone but the work dir
    holds a file of the same name (the work dir was moved), that file is
    returned with a warning.

    Args:
        work_dir (str | Path): The run's work dir.

    Returns:
        str | None: Absolute path (a URI unchanged) of the checkpoint, or
        None when the work dir has no pointer.

    Raises:
        ValueError: If the pointer is empty.
        FileNotFoundError: If the pointer names a file that does not exist;
            the message names the pointer, its content and the path tried.
    """
    work_dir = osp.abspath(os.fspath(work_dir))
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record, encoding='utf-8') as f:
        value = f.read().strip()
    if not value:
        raise ValueError(f'the checkpoint pointer "{record}" is empty; '
                         'expected the path of a checkpoint file')
    if _is_uri(value):
        return value
    if osp.isabs(value):
        path = osp.normpath(value)
        moved = osp.join(work_dir, osp.basename(path))
        if not osp.isfile(path) and osp.isfile(moved):
            print_log(
                f'the checkpoint pointer "{record}" names "{value}", which '
                f'does not exist; using "{moved}" of this work dir',
                logger='current',
                level=logging.WARNING)
            return moved
    else:
        path = osp.normpath(osp.join(work_dir, *value.split('/')))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'the checkpoint pointer "{record}" names "{value}", but "{path}" '
            'does not exist; pass the checkpoint to resume from explicitly')
    return path


def non_finite_tensors(named: Iterable[Tuple[str, torch.Tensor]],
                       limit: Optional[int] = None) -> List[str]:
    """Names of the floating-point tensors that hold NaN or Inf.

    Args:
        named (Iterable[tuple[str, Tensor]]): ``(name, tensor)`` pairs, e.g.
            ``module.named_parameters()`` or ``state_dict.items()``. Integer
            and boolean tensors (counters, masks) are skipped.
        limit (int, optional): Stop after this many names. Defaults to None
            (all).

    Returns:
        list[str]: The names, in the order given.
    """
    bad = []
    for name, tensor in named:
        if not isinstance(tensor, torch.Tensor) or not (
                tensor.is_floating_point() or tensor.is_complex()):
            continue
        if not bool(torch.isfinite(tensor.detach()).all()):
            bad.append(name)
            if limit is not None and len(bad) >= limit:
                break
    return bad


def non_finite_in_module(module: nn.Module,
                         limit: Optional[int] = None) -> List[str]:
    """Names of the parameters and buffers of a module that hold NaN / Inf.

    Args:
        module (nn.Module): The model (unwrap DDP first for plain names).
        limit (int, optional): Stop after this many names. Defaults to None.

    Returns:
        list[str]: Parameter names first, then buffer names.
    """
    pairs = list(module.named_parameters()) + list(module.named_buffers())
    return non_finite_tensors(pairs, limit=limit)


def _state_dict_of(checkpoint) -> Optional[Mapping]:
    if not isinstance(checkpoint, Mapping):
        return None
    state = checkpoint.get('state_dict', checkpoint)
    return state if isinstance(state, Mapping) else None


def is_finite_checkpoint(path: PathLike) -> bool:
    """Whether a local checkpoint loads and all its weights are finite.

    Loaded with :func:`mmpha.utils.checkpoint.load_local_checkpoint` (the
    safe loader) onto the CPU.

    Args:
        path (str | Path): The checkpoint.

    Returns:
        bool: False for a missing, unreadable or non-checkpoint file, or one
        with a NaN / Inf tensor in its ``state_dict``.
    """
    try:
        checkpoint = load_local_checkpoint(os.fspath(path), map_location='cpu')
    except Exception:  # any unreadable file is "not a good checkpoint"
        return False
    state = _state_dict_of(checkpoint)
    if state is None:
        return False
    return not non_finite_tensors(state.items(), limit=1)


def last_finite_checkpoint(candidates: Sequence[Optional[str]] = (),
                           search_dirs: Sequence[str] = ()) -> Optional[str]:
    """The newest checkpoint on disk whose weights are all finite.

    Args:
        candidates (Sequence[str | None]): Paths to try first, in order
            (e.g. the run's last checkpoint, the pointer's target); None and
            duplicates are skipped.
        search_dirs (Sequence[str]): Then the ``*.pth`` files of these
            directories, newest first.

    Returns:
        str | None: Absolute path of the first finite checkpoint found, or
        None.
    """
    seen = set()
    ordered = [osp.abspath(c) for c in candidates if c and not _is_uri(c)]
    found = []
    for dirname in search_dirs:
        found += glob.glob(osp.join(glob.escape(dirname), '*.pth'))
    found.sort(
        key=lambda p: osp.getmtime(p) if osp.exists(p) else 0, reverse=True)
    for path in ordered + [osp.abspath(p) for p in found]:
        if path in seen:
            continue
        seen.add(path)
        if is_finite_checkpoint(path):
            return path
    return None
