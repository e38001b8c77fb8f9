"""Distributed set-up that MMEngine does not cover: gloo on CUDA-less hosts."""
import datetime
import os
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare a distributed run on a machine without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. On
    such a host this function initialises the gloo process group from the
    ``torchrun`` environment before the Runner is built (the Runner then skips
    its own initialisation) and makes DDP wrap the CPU module with
    ``device_ids=None``. On a CUDA host it does nothing and MMEngine's NCCL
    path is used.

    Args:
        cfg (Config): The run's config; ``env_cfg.dist_cfg.timeout``
            (seconds) is passed to the process group;
            ``env_cfg.dist_cfg.backend`` and ``model_wrapper_cfg`` are
            updated in place on CPU.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: True if the CPU (gloo) path was set up.

    Raises:
        ValueError: On CPU with a launcher other than ``'pytorch'``, when
            the ``torchrun`` environment variables are missing, or for an
            invalid ``env_cfg.dist_cfg.timeout``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(
            f'launcher={launcher!r} needs CUDA; on a machine without CUDA '
            "use launcher='pytorch' (tools/dist_train.sh) with the gloo "
            'backend')
    missing = [
        key for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
        if key not in os.environ
    ]
    if missing:
        raise ValueError(
            f'--launcher pytorch expects the torchrun environment, but '
            f'{missing} are not set; start the run with tools/dist_train.sh '
            'or torchrun')
    timeout = dist_timeout(cfg)
    if not torch_dist.is_initialized():
        if timeout is None:
            torch_dist.init_process_group(backend='gloo')
        else:
            torch_dist.init_process_group(backend='gloo', timeout=timeout)
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def dist_timeout(cfg: Config) -> Optional[datetime.timedelta]:
    """Read ``env_cfg.dist_cfg.timeout`` (seconds) and validate it.

    MMEngine passes it to the NCCL process group; :func:`setup_cpu_distributed`
    passes it to the gloo one, so a stalled rank fails every backend's job
    within the timeout instead of torch's default of 30 minutes.

    Args:
        cfg (Config): The run's config.

    Returns:
        datetime.timedelta | None: The timeout, or None when not set.

    Raises:
        ValueError: If the timeout is not a positive number of seconds.
    """
    dist_cfg = (cfg.get('env_cfg', None) or {}).get('dist_cfg', None) or {}
    timeout = dist_cfg.get('timeout', None)
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError('env_cfg.dist_cfg.timeout must be a positive number '
                         f'of seconds, got {timeout!r}')
    return datetime.timedelta(seconds=seconds)


def teardown_distributed() -> None:
    """Wait for every rank, then destroy the default process group.

    Without this a rank may leave the interpreter while the gloo transport
    threads of another are still talking to it, and the C++ runtime aborts
    (``terminate called without an active exception``) after a run that
    otherwise succeeded. Does nothing outside a distributed run.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
