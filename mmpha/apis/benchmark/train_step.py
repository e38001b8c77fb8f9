"""Timing and memory of re-ID training steps.

:func:`benchmark_train_step` runs warm-up, timed and profiled steps of one
config and returns every figure as a plain dict; :func:`benchmark_train_pair`
alternates the steps of two configs in one process, for a fair ratio on a
machine whose load drifts. ``tools/analysis_tools/benchmark_train.py`` is
their command line.
"""
import copy
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmpha.utils import check_positive_int
from .inputs import (build_benchmark_model, find_key, input_size_of,
                     make_reid_batch, model_config)
from .stage_profiler import StageProfiler
from .timing import (Clock, Device, check_counts, current_rss_mib, median,
                     peak_rss_mib)

#: ``torch.compile`` the step (True), with a named backend (str), or not.
CompileOption = Union[bool, str]


class TrainStepBenchmark:
    """One model of a config, a fixed batch and an optimiser, ready to step.

    Each step is ``model.train_step(batch, optim_wrapper)``: data
    preprocessing, forward with every loss, backward and an SGD update
    (momentum 0.9, weight decay 1e-4). :func:`benchmark_train_step` runs one
    of these; :func:`benchmark_train_pair` alternates the steps of two.

    Args:
        cfg (Config): A run config.
        batch_size (int): B. Defaults to 16.
        num_instances (int): K. Defaults to 4.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Mixed precision (``AmpOptimWrapper``, float16, dynamic
            loss scale); CUDA only. Defaults to False.
        img_size (Sequence[int], optional): ``(H, W)``. Defaults to None:
            the model config's ``img_size``.
        lr (float): Learning rate. Defaults to 1e-3.
        seed (int): Seed of weights and batch. Defaults to 0.
        amp_dtype (str, optional): Autocast dtype of ``amp``,
            ``'float16'`` or ``'bfloat16'``. Defaults to None (float16).
        compile (bool | str): ``torch.compile`` the training step (a str
            names the backend, e.g. ``'aot_eager'``), as ``cfg.compile``
            does in MMEngine's Runner. Defaults to False.

    Raises:
        ValueError: On a bad argument (the message names it).
        KeyError: If the model config lacks ``num_classes`` (or
            ``img_size`` when none is given).
    """

    def __init__(self,
                 cfg: Config,
                 batch_size: int = 16,
                 num_instances: int = 4,
                 device: Device = 'cpu',
                 amp: bool = False,
                 img_size: Optional[Sequence[int]] = None,
                 lr: float = 1e-3,
                 seed: int = 0,
                 amp_dtype: Optional[str] = None,
                 compile: CompileOption = False) -> None:
        if device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available")
        if amp and device != 'cuda':
            raise ValueError('amp=True needs device="cuda"; mixed precision '
                             'is not benchmarked on CPU')
        if amp_dtype not in (None, 'float16', 'bfloat16'):
            raise ValueError("amp_dtype must be None, 'float16' or "
                             f"'bfloat16', got {amp_dtype!r}")
        if amp_dtype is not None and not amp:
            raise ValueError(f'amp_dtype={amp_dtype!r} needs amp=True')
        check_positive_int(batch_size, 'batch_size')
        torch.manual_seed(seed)
        self.amp_dtype = amp_dtype if amp else None
        self.compile = compile
        self.cfg = cfg
        self.device = torch.device(device)
        self.amp = amp
        self.batch_size = batch_size
        self.num_instances = num_instances
        model_cfg = model_config(cfg)
        self.img_size = tuple(img_size) if img_size is not None else \
            input_size_of(model_cfg)
        num_classes = find_key(model_cfg, 'num_classes')
        if num_classes is None:
            raise KeyError('the model config declares no num_classes')
        self.batch = make_reid_batch(
            batch_size,
            num_instances,
            self.img_size,
            num_classes=int(num_classes),
            num_cameras=int(find_key(model_cfg, 'camera_num') or 1),
            num_views=int(find_key(model_cfg, 'view_num') or 1),
            device=device,
            seed=seed)

        self.rss_before_build_mib = current_rss_mib()
        self.model = build_benchmark_model(cfg, device)
        self.params_m = sum(p.numel() for p in self.model.parameters()) / 1e6
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
        if amp:
            self.optim_wrapper = AmpOptimWrapper(
                optimizer=self.optimizer,
                loss_scale='dynamic',
                dtype=amp_dtype)
        else:
            self.optim_wrapper = OptimWrapper(optimizer=self.optimizer)
        self.rss_after_build_mib = current_rss_mib()
        self.profiler = StageProfiler(
            self.model,
            self.device,
            spans=dict(
                forward=(self.model, 'forward'),
                backward=(self.optim_wrapper, 'backward'),
                optimizer=(self.optimizer, 'step')))
        if compile:
            options = {} if compile is True else dict(backend=compile)
            # What MMEngine's Runner does with cfg.compile.
            self.model.train_step = torch.compile(self.model.train_step,
                                                  **options)
        self._clock = Clock(self.device)
        self.step_ms: List[float] = []
        # CPU time of the process: on a CPU shared with other work it
        # counts the work done, where wall time also counts the waiting.
        self.cpu_ms: List[float] = []
        self.profiles: List[Dict[str, Any]] = []
        self.warmup = 0
        self.profiled_inline = False

    def _train_step(self) -> None:
        self.model.train_step(copy.copy(self.batch), self.optim_wrapper)

    def warm_up(self, steps: int) -> None:
        """Run untimed steps.

        Args:
            steps (int): Number of steps.
        """
        for _ in range(steps):
            self._train_step()
        self.warmup += steps
        self._clock.sync()
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)

    def timed_step(self, profile: bool = False) -> float:
        """Run one timed step and record it.

        Args:
            profile (bool): Run it under the :class:`StageProfiler` and
                record the split too. Defaults to False.

        Returns:
            float: Milliseconds of the step.
        """
        cpu_start = time.process_time()
        if profile:
            with self.profiler:
                self.profiler.start_step()
                self._train_step()
                figures = self.profiler.end_step()
            self.profiles.append(figures)
            elapsed = figures['step_ms']
        else:
            self._clock.sync()
            start = time.perf_counter()
            self._train_step()
            self._clock.sync()
            elapsed = (time.perf_counter() - start) * 1e3
        self.step_ms.append(elapsed)
        self.cpu_ms.append((time.process_time() - cpu_start) * 1e3)
        return elapsed

    def profiled_step(self) -> None:
        """Run one extra step under the profiler, not counted as timed."""
        with self.profiler:
            self.profiler.start_step()
            self._train_step()
            self.profiles.append(self.profiler.end_step())

    def result(self, memory: bool = True) -> Dict[str, Any]:
        """Every figure so far as a plain dict.

        Args:
            memory (bool): Report the peak memory of the process (False
                when it is shared with another model). Defaults to True.

        Returns:
            dict: ``step_ms`` (list) and ``median_ms`` (wall time),
            ``cpu_ms`` and ``median_cpu_ms`` (CPU time of the process, all
            threads), ``peak_mib`` and ``memory_kind``, ``params_m``,
            ``split`` (medians in ms over the profiled steps), ``shapes``,
            ``missing_stages`` and the settings.
        """
        if not memory:
            peak, memory_kind = float('nan'), 'not measured'
        elif self.device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated(self.device) / 2**20
            memory_kind = 'CUDA max allocated'
        else:
            peak, memory_kind = peak_rss_mib(), 'peak RSS'
        profiles = self.profiles

        def med(getter: Callable[[dict], float]) -> float:
            return median([getter(p) for p in profiles])

        split = dict(step=med(lambda p: p['step_ms']))
        for label in self.profiler.stages:
            split[f'{label}_forward'] = med(
                lambda p: p['stages'][label]['forward_ms'])
            split[f'{label}_backward'] = med(
                lambda p: p['stages'][label]['backward_ms'])
        for label in self.profiler.spans:
            split[label] = med(lambda p: p['spans'][label])
        return dict(
            config=self.cfg.filename,
            device=self.device.type,
            amp=self.amp,
            amp_dtype=self.amp_dtype or ('float16' if self.amp else None),
            compile=self.compile,
            batch_size=self.batch_size,
            num_instances=self.num_instances,
            img_size=list(self.img_size),
            iters=len(self.step_ms),
            warmup=self.warmup,
            profile_iters=len(profiles),
            profiled_inline=self.profiled_inline,
            threads=torch.get_num_threads(),
            params_m=self.params_m,
            step_ms=list(self.step_ms),
            median_ms=median(self.step_ms),
            cpu_ms=list(self.cpu_ms),
            median_cpu_ms=median(self.cpu_ms),
            peak_mib=peak,
            memory_kind=memory_kind,
            rss_before_build_mib=self.rss_before_build_mib,
            rss_after_build_mib=self.rss_after_build_mib,
            split=split,
            shapes=profiles[-1]['shapes'] if profiles else {},
            missing_stages=list(self.profiler.missing),
            pid=os.getpid())


def benchmark_train_step(cfg: Config,
                         batch_size: int = 16,
                         num_instances: int = 4,
                         iters: int = 5,
                         warmup: int = 1,
                         device: Device = 'cpu',
                         amp: bool = False,
                         profile_iters: Optional[int] = None,
                         img_size: Optional[Sequence[int]] = None,
                         lr: float = 1e-3,
                         seed: int = 0,
                         amp_dtype: Optional[str] = None,
                         compile: CompileOption = False) -> Dict[str, Any]:
    """Time full training steps of a config's model on a fixed batch.

    On CUDA the wall time of each timed step is taken between two
    synchronisations.

    Args:
        cfg (Config): A run config.
        batch_size (int): B. Defaults to 16.
        num_instances (int): K. Defaults to 4.
        iters (int): Timed steps. Defaults to 5.
        warmup (int): Untimed steps first. Defaults to 1.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Mixed precision; CUDA only. Defaults to False.
        profile_iters (int, optional): Extra steps run with the
            :class:`StageProfiler` for the split. None: 0 on CPU, where the
            timed steps are profiled themselves (the hooks cost well under
            0.1 % of a step), and ``iters`` on CUDA, where per-node events
            would slow short steps. Defaults to None.
        img_size (Sequence[int], optional): ``(H, W)``. Defaults to None:
            the model config's ``img_size``.
        lr (float): Learning rate. Defaults to 1e-3.
        seed (int): Seed of weights and batch. Defaults to 0.
        amp_dtype (str, optional): ``'float16'`` or ``'bfloat16'`` with
            ``amp``. Defaults to None (float16).
        compile (bool | str): ``torch.compile`` the training step (a str
            names the backend). Defaults to False.

    Returns:
        dict: See :meth:`TrainStepBenchmark.result`.

    Raises:
        ValueError: On a bad argument (the message names it).
    """
    check_counts(iters, warmup, profile_iters)
    bench = TrainStepBenchmark(cfg, batch_size, num_instances, device, amp,
                               img_size, lr, seed, amp_dtype, compile)
    if profile_iters is None:
        profile_iters = iters if bench.device.type == 'cuda' else 0
    bench.profiled_inline = profile_iters == 0
    bench.warm_up(warmup)
    for _ in range(iters):
        bench.timed_step(profile=bench.profiled_inline)
    for _ in range(profile_iters):
        bench.profiled_step()
    return bench.result()


def benchmark_train_pair(cfg_a: Config,
                         cfg_b: Config,
                         batch_size: int = 16,
                         num_instances: int = 4,
                         iters: int = 5,
                         warmup: int = 1,
                         device: Device = 'cpu',
                         amp: bool = False,
                         profile_iters: Optional[int] = None,
                         img_size: Optional[Sequence[int]] = None,
                         lr: float = 1e-3,
                         seed: int = 0,
                         amp_dtype: Optional[str] = None,
                         compile: CompileOption = False) -> Tuple[Dict, Dict]:
    """Time two configs in one process, alternating their steps.

    On a machine shared with other work the load drifts; A, B, A, B, ...
    exposes both models to the same drift, so their ratio stays fair where
    two separate runs would not. Both models live in one process, so no
    per-model peak memory is reported.

    Args:
        cfg_a (Config): Config A.
        cfg_b (Config): Config B.
        batch_size (int): B. Defaults to 16.
        num_instances (int): K. Defaults to 4.
        iters (int): Timed steps of each. Defaults to 5.
        warmup (int): Untimed steps of each first. Defaults to 1.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.
        amp (bool): Mixed precision; CUDA only. Defaults to False.
        profile_iters (int, optional): See :func:`benchmark_train_step`.
        img_size (Sequence[int], optional): ``(H, W)``. Defaults to None.
        lr (float): Learning rate. Defaults to 1e-3.
        seed (int): Seed. Defaults to 0.
        amp_dtype (str, optional): ``'float16'`` or ``'bfloat16'`` with
            ``amp``. Defaults to None (float16).
        compile (bool | str): ``torch.compile`` the training step (a str
            names the backend). Defaults to False.

    Returns:
        tuple[dict, dict]: The results of A and B (see
        :meth:`TrainStepBenchmark.result`).
    """
    check_counts(iters, warmup, profile_iters)
    benches = [
        TrainStepBenchmark(cfg, batch_size, num_instances, device, amp,
                           img_size, lr, seed, amp_dtype, compile)
        for cfg in (cfg_a, cfg_b)
    ]
    if profile_iters is None:
        profile_iters = iters if benches[0].device.type == 'cuda' else 0
    for bench in benches:
        bench.profiled_inline = profile_iters == 0
        bench.warm_up(warmup)
    for _ in range(iters):
        for bench in benches:
            bench.timed_step(profile=bench.profiled_inline)
    for _ in range(profile_iters):
        for bench in benches:
            bench.profiled_step()
    return tuple(bench.result(memory=False) for bench in benches)


def stage_breakdown(result: Dict[str, Any]) -> Dict[str, float]:
    """Turn the split of :func:`benchmark_train_step` into disjoint parts.

    Args:
        result (dict): A result of :func:`benchmark_train_step`.

    Returns:
        dict[str, float]: Milliseconds of ``frequency``, ``backbone
        forward``, ``backbone backward``, ``heads and losses forward``,
        ``heads and losses backward``, ``optimiser step`` and ``other``
        (data preprocessing, ``zero_grad``, gradient accumulation); they
        add up to ``step``, also returned.
    """
    split = result['split']
    freq = split.get('frequency_forward', 0.0) + split.get(
        'frequency_backward', 0.0)
    bb_fwd = split.get('backbone_forward', 0.0)
    bb_bwd = split.get('backbone_backward', 0.0)
    fwd, bwd = split.get('forward', 0.0), split.get('backward', 0.0)
    opt = split.get('optimizer', 0.0)
    heads_fwd = max(0.0, fwd - freq - bb_fwd)
    heads_bwd = max(0.0, bwd - bb_bwd)
    step = split['step']
    other = max(0.0, step - fwd - bwd - opt)
    return {
        'frequency': freq,
        'backbone forward': bb_fwd,
        'backbone backward': bb_bwd,
        'heads and losses forward': heads_fwd,
        'heads and losses backward': heads_bwd,
        'optimiser step': opt,
        'other': other,
        'step': step,
    }
