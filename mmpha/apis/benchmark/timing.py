"""Clocks, medians and memory readings shared by the benchmarks.

On a CUDA device a time mark is a CUDA event, so that a measurement reads
device time and does not synchronise inside the measured code; on the CPU it
is :func:`time.perf_counter`.
"""
import resource
import statistics
import time
from typing import Any, Literal, Optional, Sequence

import torch

Device = Literal['cpu', 'cuda']


class Clock:
    """Time marks: CUDA events on a CUDA device, ``perf_counter`` on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'

    def mark(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def elapsed_ms(self, start: Any, end: Any) -> float:
        if self.cuda:
            return float(start.elapsed_time(end))
        return (end - start) * 1e3

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float('nan')


def check_counts(iters: int, warmup: int,
                 profile_iters: Optional[int]) -> None:
    for name, value, low in (('iters', iters, 1), ('warmup', warmup, 0),
                             ('profile_iters', profile_iters, 0)):
        if value is None and name == 'profile_iters':
            continue
        if not isinstance(value, int) or value < low:
            raise ValueError(f'{name} must be an int >= {low}, got {value!r}')


def _proc_status_mib(field: str) -> Optional[float]:
    """A ``kB`` field of ``/proc/self/status`` in MiB, or None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def current_rss_mib() -> float:
    """Resident set size of this process now, in MiB."""
    value = _proc_status_mib('VmRSS')
    if value is not None:
        return value
    return peak_rss_mib()


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    value = _proc_status_mib('VmHWM')
    if value is not None:
        return value
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
