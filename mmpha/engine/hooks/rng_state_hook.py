"""Random-generator state in checkpoints, so that a resumed run continues
exactly as the uninterrupted one would have."""
import random
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmpha.registry import HOOKS


def get_rng_state() -> Dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators.

    Every value is a tensor or a plain Python container of ints and floats,
    so the state loads with ``torch.load(weights_only=True)``.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, with CUDA, ``cuda``
        (one state per device).
    """
    version, keys, gauss = random.getstate()
    name, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(version=version, keys=list(keys), gauss=gauss),
        numpy=dict(
            name=name,
            keys=torch.from_numpy(np_keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`.

    Args:
        state (dict): The state.

    Raises:
        KeyError: If a generator's entry is missing.
    """
    py = state['python']
    random.setstate((py['version'], tuple(py['keys']), py['gauss']))
    np_state = state['numpy']
    np.random.set_state(
        (np_state['name'], np_state['keys'].numpy().astype(np.uint32),
         np_state['pos'], np_state['has_gauss'], np_state['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:
            print_log(
                f'the checkpoint holds {len(cuda)} CUDA generator states '
                f'but {torch.cuda.device_count()} devices are visible; the '
                'CUDA generators are not restored',
                logger='current',
                level=30)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save and restore the global random generators with checkpoints.

    MMEngine's resume restores weights, optimiser, schedulers and counters,
    but re-seeds the generators at start-up. Random augmentations in the
    main process (``num_workers=0``), drop-path and dropout then draw other
    numbers after a resume than the uninterrupted run would have. This hook

    - stores the Python, NumPy, torch (and CUDA) generator states in every
      checkpoint under ``'rng_state'`` and restores them when the run
      resumes (not for ``load_from`` without resume);
    - puts the state back after each validation, so validating (which
      creates a data loader, drawing a seed) does not shift the training
      stream: a run is the same whatever its ``val_interval``.

    Data-loader workers (``num_workers > 0``) of the shipped train loaders
    are seeded afresh each epoch by
    :func:`~mmpha.datasets.reid_worker_init_fn` from torch's per-epoch
    worker seed, a draw of the main generator, so they are covered too
    unless ``persistent_workers=True``, whose workers carry their state
    across epochs and cannot be checkpointed. (MMEngine's default
    ``worker_init_fn`` would give the workers the same seeds every epoch.)

    In distributed training the checkpoint holds rank 0's state; it is
    restored on every rank only when all ranks share one seed (MMEngine's
    default, ``diff_rank_seed=False``).
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._val_state: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the generator states in the checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being written.
        """
        checkpoint['rng_state'] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the generator states when the run resumes.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        if not getattr(runner, '_resume', False):
            return
        state = checkpoint.get('rng_state')
        if state is None:
            print_log(
                'the checkpoint holds no random generator state (written '
                'without RNGStateHook): the resumed run will draw other '
                'random numbers than an uninterrupted one',
                logger='current',
                level=30)
            return
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if get_world_size() > 1 and randomness.get('diff_rank_seed', False):
            return
        set_rng_state(state)

    def before_val(self, runner) -> None:
        """Remember the generator states before validating.

        Args:
            runner (Runner): The runner.
        """
        self._val_state = get_rng_state()

    def after_val(self, runner) -> None:
        """Put the generator states back after validating.

        Args:
            runner (Runner): The runner.
        """
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None
