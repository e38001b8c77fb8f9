"""One rank of the cross-rank batch test (run by test_cross_rank_batch.py).

Each rank loads the reference weights, takes its slice of the global batch,
runs the loss through torch's DistributedDataParallel (gloo, CPU) and saves
its losses, the averaged gradients and the BN running statistics.
"""
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from mmpha.models.utils.cross_rank import gather_batch
from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample


def samples_of(labels):
    """Data samples carrying ``labels`` (camera 0, view 0)."""
    return [
        ReIDDataSample().set_gt_label(int(label)).set_cam_id(0).set_view_id(0)
        for label in labels
    ]


def loss_and_grads(model, inputs, labels):
    """Losses, gradients and BN statistics after one backward pass."""
    losses = model(inputs, samples_of(labels), mode='loss')
    total = sum(value for key, value in losses.items() if 'loss' in key)
    total.backward()
    module = model.module if hasattr(model, 'module') else model
    grads = {
        name: param.grad.detach().clone()
        for name, param in module.named_parameters() if param.grad is not None
    }
    buffers = {
        name: buf.detach().clone()
        for name, buf in module.named_buffers() if 'running' in name
    }
    values = {key: float(value.detach()) for key, value in losses.items()}
    return values, grads, buffers


def run(rank: int, world_size: int, init_file: str, work_dir: str) -> None:
    """Entry point of ``torch.multiprocessing.spawn``."""
    torch.set_num_threads(1)
    from mmpha.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=world_size)
    try:
        case = torch.load(os.path.join(work_dir, 'case.pt'))
        inputs, labels = case['inputs'], case['labels']
        share = inputs.shape[0] // world_size
        mine = slice(rank * share, (rank + 1) * share)
        results = {}
        for name, cfg in case['configs'].items():
            for cross in (True, False):
                model = MODELS.build(dict(cfg, cross_rank_batch=cross))
                model.load_state_dict(case['weights'][name])
                model.train()
                ddp = DistributedDataParallel(model, device_ids=None)
                results[(name,
                         cross)] = loss_and_grads(ddp, inputs[mine],
                                                  labels[mine])
        # Ranks with different batch sizes: a clear error on every rank.
        try:
            gather_batch(torch.zeros(rank + 1))
        except ValueError as err:
            results['uneven'] = str(err)
        torch.save(results, os.path.join(work_dir, f'rank{rank}.pt'))
    finally:
        dist.barrier()
        dist.destroy_process_group()
