"""The global batch of a data-parallel step, seen from every rank.

Re-ID losses that mine or contrast inside a batch (the batch-hard triplet
loss, PHA's patch-wise contrastive loss) and the BNNecks' batch statistics
depend on the whole P x K batch. Under DDP each rank holds a slice of it;
these helpers let a rank compute on the global batch while gradients still
reach its own slice, so that N processes train what one process with the
same global batch trains (see docs/en/user_guides/train_test.md).

Gradient bookkeeping. DDP averages the parameter gradients over the W ranks.
Two kinds of term meet in one objective:

- a per-rank term ``L_r`` computed from the local slice (the ID loss, a mean
  over the slice): DDP's mean ``(1/W) sum_r grad L_r`` is the gradient of
  the global mean, the one-process loss, when the slices are equally large;
- a global term ``G`` computed from gathered tensors, the same value on
  every rank (the triplet loss of the gathered batch): rank r holds the
  graph of its own slice only, so its backward must deliver
  ``W * dG/dx_r`` for DDP's mean to give ``dG/dtheta``.

:func:`all_gather_with_grad` returns, in backward, the local slice of the
sum over ranks of the gathered tensor's gradient (an all-reduce). For a
global term every rank's gradient is the same, so the sum is exactly the
``W * dG/dx_r`` above, with no explicit factor; for per-rank terms that read
gathered values (the statistics of :class:`SyncBatchNorm1d`) the sum
collects every rank's dependence on the local slice, which is also what
DDP's mean needs. Either way the gradients after DDP's averaging equal the
one-process gradients.

Every function here is the identity (no communication) outside a
distributed run or with one process.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor

from mmpha.registry import MODELS


def cross_rank_world() -> Tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)``
    outside a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllGatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward all-reduces (sums) the gradient
    of the gathered tensor and returns this rank's slice."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        rank, world_size = cross_rank_world()
        ctx.rank, ctx.batch = rank, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.batch
        return grad[start:start + ctx.batch]


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate every rank's ``tensor`` along dim 0, keeping the graph.

    All ranks must pass tensors of the same shape (see
    :func:`gather_batch`, which checks it). See the module docstring for
    the gradient.

    Args:
        tensor (Tensor): ``(b, ...)`` this rank's slice.

    Returns:
        Tensor: ``(W * b, ...)``, rank 0's slice first; ``tensor`` itself
        outside a distributed run.
    """
    if cross_rank_world()[1] == 1:
        return tensor
    return _AllGatherWithGrad.apply(tensor)


def _all_gather_no_grad(tensor: Tensor) -> Tensor:
    parts = [torch.empty_like(tensor) for _ in range(cross_rank_world()[1])]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def gather_batch(*tensors: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
    """Gather tensors of one batch from every rank (the global batch).

    Tensors that require a gradient go through
    :func:`all_gather_with_grad`; the others (labels) are gathered without
    a graph. None entries are passed through. One small collective first
    checks that every rank holds the same batch size.

    Args:
        *tensors (Tensor | None): ``(b, ...)`` tensors of this rank's slice,
            sharing dim 0.

    Returns:
        tuple[Tensor | None, ...]: ``(W * b, ...)`` each, in rank order; the
        inputs themselves outside a distributed run.

    Raises:
        ValueError: If the tensors disagree on the batch size, or the ranks
            hold different batch sizes (their sizes are named).
    """
    present = [t for t in tensors if t is not None]
    if not present:
        return tensors
    sizes = {t.shape[0] for t in present}
    if len(sizes) != 1:
        raise ValueError('gather_batch needs tensors of one batch, got dim-0 '
                         f'sizes {[t.shape[0] for t in present]}')
    if cross_rank_world()[1] == 1:
        return tensors
    size = present[0].new_tensor([present[0].shape[0]], dtype=torch.long)
    all_sizes = _all_gather_no_grad(size).tolist()
    if len(set(all_sizes)) != 1:
        raise ValueError(
            f'the ranks hold batches of sizes {all_sizes}; gathering the '
            'global batch (model.cross_rank_batch=True) needs equal per-rank '
            'batches, as PKBatchSampler gives')
    gathered = []
    for tensor in tensors:
        if tensor is not None:
            tensor = (
                all_gather_with_grad(tensor)
                if tensor.requires_grad else _all_gather_no_grad(tensor))
        gathered.append(tensor)
    return tuple(gathered)


@MODELS.register_module()
class SyncBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training statistics are those of the global
    batch, on any backend (gloo on CPU, NCCL on GPU).

    In training, under a distributed run with more than one process, each
    rank computes the count, mean and sum of squared deviations of its
    slice; these are gathered with :func:`all_gather_with_grad` (one
    collective of ``W x (2C + 1)`` values) and combined (Chan et al.'s
    parallel variance) into the global mean and biased variance that
    normalise the slice. The running statistics are updated exactly as
    ``BatchNorm1d`` updates them on the global batch (unbiased variance,
    same momentum rule), so they stay identical on every rank. Otherwise
    (evaluation, one process) it is ``BatchNorm1d``. Its parameters and
    buffers are ``BatchNorm1d``'s, so checkpoints move freely between the
    two.

    ``torch.nn.SyncBatchNorm`` does the same on CUDA only. MMEngine's
    ``cfg.sync_bn='torch'`` converts every batch norm, this one included,
    to it: fine on GPUs, an error on CPU.

    Args and shapes are those of ``nn.BatchNorm1d``: input ``(B, C)`` or
    ``(B, C, L)``.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Normalise with the global batch statistics.

        Args:
            x (Tensor): ``(B, C)`` or ``(B, C, L)``.

        Returns:
            Tensor: Same shape as ``x``.
        """
        if not self.training or cross_rank_world()[1] == 1:
            return super().forward(x)
        if x.dim() not in (2, 3):
            raise ValueError('SyncBatchNorm1d expects (B, C) or (B, C, L) '
                             f'input, got shape {tuple(x.shape)}')
        flat = x if x.dim() == 2 else x.transpose(1, 2).reshape(-1, x.shape[1])
        count = flat.new_full((1, ), float(flat.shape[0]))
        mean = flat.mean(dim=0)
        m2 = ((flat - mean)**2).sum(dim=0)
        stats = all_gather_with_grad(torch.cat([count, mean, m2]).unsqueeze(0))
        counts, means, m2s = stats.split(
            [1, self.num_features, self.num_features], dim=1)
        total = counts.sum()
        global_mean = (counts * means).sum(dim=0) / total
        global_m2 = (m2s + counts * (means - global_mean)**2).sum(dim=0)
        var = global_m2 / total
        if self.track_running_stats:
            self._update_running_stats(global_mean.detach(),
                                       (global_m2 / (total - 1)).detach()
                                       if total > 1 else var.detach())
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1)
        out = (x - global_mean.view(shape)
               ) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor,
                              unbiased_var: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        if self.momentum is None:
            factor = 1.0 / float(self.num_batches_tracked)
        else:
            factor = self.momentum
        self.running_mean.mul_(1 - factor).add_(factor * mean)
        self.running_var.mul_(1 - factor).add_(factor * unbiased_var)

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Replace every ``nn.BatchNorm1d`` of ``module`` by this class,
        keeping parameters, buffers and ``requires_grad``.

        Args:
            module (nn.Module): A module tree (converted in place).

        Returns:
            nn.Module: ``module``, or the replacement when it is itself a
            ``BatchNorm1d``.
        """
        if type(module) is nn.BatchNorm1d:
            new = cls(module.num_features, module.eps, module.momentum,
                      module.affine, module.track_running_stats)
            new.load_state_dict(module.state_dict())
            if module.affine:
                new.weight.requires_grad_(module.weight.requires_grad)
                new.bias.requires_grad_(module.bias.requires_grad)
            new.train(module.training)
            return new.to(next(module.buffers(), torch.empty(0)).device)
        for name, child in module.named_children():
            new_child = cls.convert(child)
            if new_child is not child:
                setattr(module, name, new_child)
        return module
