"""Cost of gathering the global batch across ranks (``cross_rank_batch``).

Starts ``--world-size`` processes (gloo on the CPU, or NCCL with
``--device cuda``), and times one forward + backward of
``all_gather_with_grad`` on a ``(B, D)`` feature tensor and on a
``(B, T, D)`` token tensor, ``B`` images per rank: the collectives that
``cross_rank_batch=True`` adds per gathered tensor. Prints milliseconds
(median over ``--iters``) and the megabytes each rank receives.

Examples:
    # ViT-B/16 at 256x128, 32 images per rank, PHA's 85 kept tokens
    python tools/analysis_tools/benchmark_gather.py \
        --batch 32 --tokens 85 --dims 768
    python tools/analysis_tools/benchmark_gather.py \
        --batch 8 --tokens 11 --dims 32   # the tiny test models
"""
import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmpha.models.utils.cross_rank import all_gather_with_grad


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Time the cross-rank gather of features and tokens')
    parser.add_argument('--world-size', type=int, default=2)
    parser.add_argument('--batch', type=int, default=32, help='per rank')
    parser.add_argument('--tokens', type=int, default=85)
    parser.add_argument('--dims', type=int, default=768)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    return parser.parse_args()


def _time(tensor: torch.Tensor, iters: int, warmup: int) -> float:
    times = []
    for step in range(warmup + iters):
        leaf = tensor.detach().requires_grad_()
        if tensor.is_cuda:
            torch.cuda.synchronize()
        dist.barrier()
        start = time.perf_counter()
        all_gather_with_grad(leaf).sum().backward()
        if tensor.is_cuda:
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _worker(rank: int, args: argparse.Namespace, port: int) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    backend = 'nccl' if args.device == 'cuda' else 'gloo'
    if args.device == 'cuda':
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, rank=rank, world_size=args.world_size)
    device = torch.device('cuda', rank) if args.device == 'cuda' else \
        torch.device('cpu')
    shapes = dict(
        features=(args.batch, args.dims),
        tokens=(args.batch, args.tokens, args.dims))
    for name, shape in shapes.items():
        tensor = torch.randn(shape, device=device)
        ms = _time(tensor, args.iters, args.warmup)
        received = tensor.numel() * 4 * (args.world_size - 1) / 2**20
        if rank == 0:
            print(f'{name:8s} {str(shape):18s} world {args.world_size}: '
                  f'{ms:8.2f} ms forward+backward, {received:7.2f} MB '
                  'received per rank and direction')
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    """Spawn the ranks and print the timings."""
    args = parse_args()
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(_worker, args=(args, port), nprocs=args.world_size, join=True)


if __name__ == '__main__':
    main()
