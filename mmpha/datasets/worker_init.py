"""Seeding of data-loader workers that changes every epoch and resumes.

MMEngine's default ``worker_init_fn`` seeds each worker with
``num_workers * rank + worker_id + seed``: the same numbers every epoch. With
``persistent_workers=False`` (which an exact resume needs: a persistent
worker's random state cannot be checkpointed) that replays one random stream
of augmentations every epoch. :func:`reid_worker_init_fn` seeds from the
seed that torch gives the worker instead, which torch draws from the main
process's generator each time an epoch's workers start: it differs between
epochs, is reproducible from the run's seed, and continues exactly after a
resume, since the main process's generator is checkpointed
(:class:`~mmpha.engine.hooks.RNGStateHook`).
"""
import random
import warnings
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank

from mmpha.registry import FUNCTIONS

# A large odd multiplier keeps the seeds of different ranks apart.
_RANK_STRIDE = 0x9E3779B1


@FUNCTIONS.register_module()
def reid_worker_init_fn(worker_id: int,
                        rank: Optional[int] = None,
                        disable_subprocess_warning: bool = False) -> None:
    """Seed Python, NumPy and torch in a data-loader worker.

    Use it as ``train_dataloader.worker_init_fn=dict(type=
    'mmpha.reid_worker_init_fn')`` (MMEngine looks the function up in its
    root registry, so the scope prefix is needed).

    Args:
        worker_id (int): Worker index in ``[0, num_workers - 1]``.
        rank (int, optional): Rank of the process; None reads it from the
            process group. Defaults to None.
        disable_subprocess_warning (bool): Silence warnings in every worker
            but the first. Defaults to False.
    """
    if rank is None:
        rank = get_rank()
    # torch.initial_seed() in a worker is the per-epoch base seed + id.
    seed = (torch.initial_seed() + rank * _RANK_STRIDE) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter('ignore')
