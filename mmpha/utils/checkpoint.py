"""Loading checkpoints safely on torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine's
checkpoints hold its ``MessageHub`` state (``HistoryBuffer`` objects holding
numpy arrays), which that default refuses. Full unpickling would run code from
the file, so mmpha never does it: checkpoints are always loaded with
``weights_only=True``, and the few classes that MMEngine itself writes into a
training checkpoint are allowed explicitly, for the duration of one load.
Third-party weights (ImageNet ViTs, released models) are plain tensors and
load under the same rule.
"""
import contextlib
import os.path as osp
from typing import Callable, Iterator, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader


def trusted_checkpoint_globals() -> List[Callable]:
    """The non-tensor globals that an MMEngine training checkpoint holds.

    Returns:
        list: Classes and functions to allow in a ``weights_only`` load: the
        message hub's ``HistoryBuffer`` (whose per-instance table of
        statistics methods is pickled with ``getattr``) and numpy's array,
        scalar and dtype reconstructors.
    """
    # numpy 2 moved ``numpy.core`` to ``numpy._core``.
    multiarray = getattr(np, '_core', None) or np.core
    allowed = [
        HistoryBuffer,
        getattr,
        np.ndarray,
        np.dtype,
        multiarray.multiarray._reconstruct,
        multiarray.multiarray.scalar,
    ]
    # numpy >= 1.25 pickles dtypes through their own classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return allowed


@contextlib.contextmanager
def _allow_training_state() -> Iterator[None]:
    with torch.serialization.safe_globals(trusted_checkpoint_globals()):
        yield


def load_local_checkpoint(filename: str,
                          map_location: Optional[Union[str, Callable]] = None,
                          logger=None) -> dict:
    """Load a local checkpoint with ``weights_only=True``.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (str | Callable, optional): As in :func:`torch.load`.
            Defaults to None.
        logger: Unused; kept for MMEngine's loader signature.

    Returns:
        dict: The loaded checkpoint.

    Raises:
        FileNotFoundError: If the file does not exist.
        RuntimeError: If the file holds objects outside the allowed set; the
            message names the file and the offending globals.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file "{filename}" does not exist')
    try:
        with _allow_training_state():
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError subclasses
        if 'weights_only' not in str(err) and 'Unsupported' not in str(err):
            raise
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
                filename)
        except Exception:  # a legacy (non-zip) file cannot be scanned
            unsafe = ['<unknown: not a zip checkpoint>']
        raise RuntimeError(
            f'Refusing to unpickle "{filename}": it holds objects other than '
            f'tensors and MMEngine training state ({unsafe}). mmpha loads '
            'checkpoints with weights_only=True; convert the file to a plain '
            'state_dict (torch.save(model.state_dict(), path)) if you trust '
            'it.') from err


def register_checkpoint_loader() -> None:
    """Make MMEngine load local files with :func:`load_local_checkpoint`.

    Idempotent. Called when :mod:`mmpha.utils` is imported, so every
    ``load_from`` / ``--resume`` / ``init_cfg`` checkpoint goes through it.
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


register_checkpoint_loader()
