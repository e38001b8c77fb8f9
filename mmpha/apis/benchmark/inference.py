"""Inference throughput of a re-ID model on random input."""
import time
from typing import Callable, Dict, Tuple

import numpy as np
import torch
from torch import nn

from mmpha.utils import check_positive_int
from ..deployment import InferenceWrapper


@torch.no_grad()
def benchmark_inference(model: nn.Module,
                        input_shape: Tuple[int, int],
                        batch_size: int = 32,
                        iters: int = 20,
                        warmup: int = 3,
                        timer: Callable[[], float] = time.perf_counter
                        ) -> Dict[str, float]:
    """Inference throughput of the model on random input.

    Measures the model alone (no data loading) on the device it lives on,
    synchronising CUDA before reading the clock.

    Args:
        model (nn.Module): A re-ID model in eval mode.
        input_shape (tuple[int, int]): ``(H, W)``.
        batch_size (int): Images per forward pass. Defaults to 32.
        iters (int): Timed forward passes. Defaults to 20.
        warmup (int): Untimed passes first. Defaults to 3.
        timer (Callable[[], float]): The clock, in seconds, read before and
            after each timed pass (after CUDA has synchronised). Defaults to
            :func:`time.perf_counter`.

    Returns:
        dict[str, float]: ``images_per_s``, ``ms_per_batch`` (median over
        the timed passes) and ``batch_size``. ``images_per_s`` is
        ``batch_size`` over the median time of one pass.
    """
    check_positive_int(batch_size, 'batch_size')
    check_positive_int(iters, 'iters')
    if warmup < 0:
        raise ValueError(f'warmup must be >= 0, got {warmup}')
    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    device = next(model.parameters()).device
    x = torch.randn(batch_size, 3, *input_shape, device=device)

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        wrapper(x)
    sync()
    times = []
    for _ in range(iters):
        start = timer()
        wrapper(x)
        sync()
        times.append(timer() - start)
    median = float(np.median(times))
    return dict(
        images_per_s=batch_size / median,
        ms_per_batch=median * 1000,
        batch_size=float(batch_size))
