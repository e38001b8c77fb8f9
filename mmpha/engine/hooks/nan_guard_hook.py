"""Stop a run at the first non-finite loss, naming the loss term."""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.hooks import Hook

from mmpha.registry import HOOKS
from .checkpoint_hook import find_last_finite_checkpoint

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raise as soon as a training loss term is NaN or infinite.

    A non-finite loss makes every later iteration useless, and the next
    checkpoint would store corrupted weights. After each training iteration
    this hook inspects the logged outputs of the model (the ``loss_*`` terms
    and their sum ``loss``) and raises :class:`RuntimeError` naming each
    non-finite term, its value, the epoch and iteration, and the last
    checkpoint on disk whose weights are all finite (it is loaded and
    checked; a checkpoint holding NaN is never named).

    The optimiser has already stepped when the hook runs, so the weights in
    memory may hold NaN; the hook runs before the checkpoint hook (its
    priority is higher) and the run stops, so no checkpoint of those weights
    is written and the last one on disk is the last good state. Resume from
    it with ``--resume`` after fixing the cause (learning rate, loss weight,
    data). A step can also turn the weights non-finite while its loss was
    still finite; :class:`SafeCheckpointHook` checks the weights themselves
    and refuses to write them.

    In distributed training each rank checks its own terms; a rank that
    raises ends the job through the launcher.

    Args:
        keys (Sequence[str], optional): Output keys to check. Defaults to
            None: every key containing ``'loss'``.
    """

    # Above CheckpointHook (VERY_LOW) and LoggerHook (BELOW_NORMAL): stop
    # before a checkpoint of the corrupted weights can be written.
    priority = 'ABOVE_NORMAL'

    def __init__(self, keys: Optional[Sequence[str]] = None) -> None:
        if keys is not None:
            if isinstance(keys,
                          str) or not all(isinstance(k, str) for k in keys):
                raise TypeError(
                    f'keys must be a sequence of str or None, got {keys!r}')
            if len(keys) == 0:
                raise ValueError('keys must not be empty; use None to check '
                                 'every loss term')
        self.keys = None if keys is None else tuple(keys)

    def _checked(self, outputs: Dict) -> List[Tuple[str, float]]:
        """Return ``(name, value)`` of the non-finite checked outputs."""
        bad = []
        for name, value in outputs.items():
            if self.keys is None:
                if 'loss' not in name:
                    continue
            elif name not in self.keys:
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach().float()
                if bool(torch.isfinite(value).all()):
                    continue
                # Report a representative bad element of a non-scalar term.
                value = value[~torch.isfinite(value)].flatten()[0].item()
            elif isinstance(value, (int, float)):
                if math.isfinite(value):
                    continue
            else:
                continue
            bad.append((name, float(value)))
        return bad

    @staticmethod
    def last_checkpoint(runner) -> Optional[str]:
        """The latest checkpoint of the run whose weights are all finite.

        Candidates are the run's last checkpoint and the target of the work
        dir's ``last_checkpoint`` pointer, then the other checkpoints of
        their directories, newest first; each is loaded with the safe loader
        and checked, so a checkpoint holding NaN is never named.

        Args:
            runner (Runner): The runner.

        Returns:
            str | None: Absolute path of the checkpoint, or None when no
            checkpoint with finite weights exists.
        """
        return find_last_finite_checkpoint(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Check the logged loss terms of the iteration.

        Args:
            runner (Runner): The runner of the training process.
            batch_idx (int): Index of the iteration in the epoch.
            data_batch (dict | tuple | list, optional): Unused.
            outputs (dict, optional): The model's logged outputs.

        Raises:
            RuntimeError: If a checked term is NaN or infinite.
        """
        if not outputs:
            return
        bad = self._checked(outputs)
        if not bad:
            return
        # The total is non-finite whenever a term is; name the terms.
        terms = [item for item in bad if item[0] != 'loss'] or bad
        described = ', '.join(f'"{name}" = {value}' for name, value in terms)
        ckpt = self.last_checkpoint(runner)
        where = (f'the last checkpoint is {ckpt}' if ckpt else
                 'no checkpoint with finite weights has been saved yet')
        raise RuntimeError(
            f'non-finite loss {described} at epoch {runner.epoch + 1}, '
            f'iteration {batch_idx + 1} of the epoch (global iteration '
            f'{runner.iter + 1}); the run is stopped and {where}')
