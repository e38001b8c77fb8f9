"""A real MMEngine Runner around a toy model, for checkpoint-writing tests.

A training iteration takes about a millisecond, so tests can save a
checkpoint every iteration and start a runner in each of many subprocesses.
The model has parameters and buffers (``BatchNorm1d``), the optimiser has
state (momentum), and the validation metric replays a given list of scores so
that tests control which epoch is the best.
"""
import uuid
from typing import Any, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

#: Width of the toy model: ``WIDTH * WIDTH`` weights.
WIDTH = 32


class ToyModel(BaseModel):
    """``BatchNorm1d(Linear(x))`` whose loss is the mean square output.

    Args:
        width (int): Input and output width ``C``. Defaults to ``WIDTH``.
    """

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width)

    def forward(self,
                inputs: Sequence[torch.Tensor],
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Any:
        """Run the model.

        Args:
            inputs (Sequence[Tensor]): ``B`` vectors of shape ``(C, )``.
            data_samples (list, optional): Unused.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict | list | Tensor: ``dict(loss=...)``, ``B`` outputs of shape
            ``(C, )``, or the ``(B, C)`` output.
        """
        out = self.norm(self.linear(torch.stack(list(inputs))))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        if mode == 'predict':
            return list(out)
        return out


class ToyDataset(Dataset):
    """``length`` fixed random vectors of width ``width``."""

    def __init__(self, length: int = 4, width: int = WIDTH) -> None:
        self.data = torch.randn(
            length, width, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.data[index])


class ReplayedMetric(BaseMetric):
    """A metric ``mAP`` whose n-th evaluation returns ``scores[n]``."""

    def __init__(self, scores: Sequence[float]) -> None:
        super().__init__()
        self.scores = list(scores)
        self.calls = 0

    def process(self, data_batch, data_samples) -> None:
        """Record one sample a batch (the value is unused)."""
        self.results.append(0)

    def compute_metrics(self, results: List) -> dict:
        """The next replayed score."""
        score = self.scores[min(self.calls, len(self.scores) - 1)]
        self.calls += 1
        return dict(mAP=score)


def toy_runner(work_dir: str,
               max_epochs: int = 3,
               by_epoch: bool = True,
               max_iters: int = 1000,
               checkpoint: Optional[dict] = None,
               scores: Optional[Sequence[float]] = None,
               custom_hooks: Optional[list] = None,
               width: int = WIDTH,
               **kwargs) -> Runner:
    """A Runner of the toy model with ``SafeCheckpointHook``.

    Args:
        work_dir (str): Work dir.
        max_epochs (int): Epochs when ``by_epoch``. Defaults to 3.
        by_epoch (bool): Epoch- or iteration-based training. Defaults to
            True.
        max_iters (int): Iterations when not ``by_epoch``. Defaults to 1000.
        checkpoint (dict, optional): Overrides of the checkpoint hook.
            Defaults to None: every epoch (or iteration), all kept.
        scores (Sequence[float], optional): Validation ``mAP`` of each
            epoch; None for no validation. Defaults to None.
        custom_hooks (list, optional): Extra hooks. Defaults to None.
        width (int): Width of the model. Defaults to ``WIDTH``.
        **kwargs: Further ``Runner`` arguments (``resume``, ``load_from``).

    Returns:
        Runner: The runner (not started).
    """
    ckpt = dict(type='SafeCheckpointHook', interval=1, by_epoch=by_epoch)
    ckpt.update(checkpoint or {})
    loader = dict(
        dataset=ToyDataset(width=width),
        # MMEngine sleeps 2 s each time an iteration-based run restarts a
        # finite sampler.
        sampler=dict(
            type='DefaultSampler' if by_epoch else 'InfiniteSampler',
            shuffle=False),
        batch_size=2,
        num_workers=0)
    train_cfg = (
        dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
        if by_epoch else dict(by_epoch=False, max_iters=max_iters))
    val = {}
    if scores is not None:
        val = dict(
            val_dataloader=dict(loader),
            val_cfg=dict(),
            val_evaluator=[ReplayedMetric(scores)])
    return Runner(
        model=ToyModel(width),
        work_dir=work_dir,
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=train_cfg,
        default_hooks=dict(
            checkpoint=ckpt, logger=dict(type='LoggerHook', interval=1000)),
        custom_hooks=custom_hooks,
        default_scope='mmpha',
        log_level='WARNING',
        experiment_name=f'toy_{uuid.uuid4().hex[:12]}',
        **val,
        **kwargs)
