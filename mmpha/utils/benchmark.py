"""Timing and memory measurement of re-ID training steps.

The pieces here are used by ``tools/analysis_tools/benchmark_train.py``:

- :func:`build_benchmark_model` builds a model from a config with random
  weights (every ``Pretrained`` initialisation removed);
- :func:`make_reid_batch` makes a fixed synthetic P x K batch;
- :class:`StageProfiler` splits a training step into named stages. Forward
  time is measured around selected methods (``neck.forward``,
  ``backbone.embed``, ...); backward time of a stage is the sum of the run
  times of the autograd nodes that its forward calls created, measured with
  node pre- and post-hooks. On CUDA every mark is a CUDA event, so the
  figures are device time and the instrumentation does not synchronise
  inside the step;
- :func:`benchmark_train_step` runs warm-up, timed and profiled steps of
  one config and returns every figure as a plain dict;
  :func:`benchmark_train_pair` alternates the steps of two configs in one
  process, for a fair ratio on a machine whose load drifts.
"""
import copy
import functools
import logging
import os
import resource
import statistics
import time
from typing import (Any, Callable, Dict, List, Literal, Optional, Sequence,
                    Tuple)

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import nn

Device = Literal['cpu', 'cuda']

#: Default stages: label -> ``'attribute.path:method'`` targets. The
#: frequency stage is PHA's neck (DWT, HF map, low-frequency drop, patch
#: selection); the backbone stage is the shared patch embedding and first
#: L - 1 blocks, over every token sequence the model feeds them.
DEFAULT_STAGES: Dict[str, Sequence[str]] = {
    'frequency': ('neck:forward', ),
    'backbone': ('backbone:embed', 'backbone:forward_blocks'),
}


class _Clock:
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


def _resolve(root: nn.Module, path: str) -> Optional[Any]:
    """Return the object at a dotted attribute path, or None."""
    obj = root
    for name in filter(None, path.split('.')):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _next_sequence_nr() -> int:
    """Sequence number that the next autograd node of this thread gets."""
    probe = torch.empty(0, requires_grad=True)
    return (probe * 1).grad_fn._sequence_nr() + 1


def _grad_fns(out: Any) -> List[Any]:
    """The ``grad_fn`` of every tensor in a (nested) output."""
    if isinstance(out, torch.Tensor):
        return [out.grad_fn] if out.grad_fn is not None else []
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [fn for item in out for fn in _grad_fns(item)]
    return []


class StageProfiler:
    """Split training steps into named stages, forward and backward.

    Usage::

        profiler = StageProfiler(model, device=torch.device('cpu'),
                                 spans={'optimizer': (optim_wrapper,
                                                      'step')})
        with profiler:
            profiler.start_step()
            model.train_step(data, optim_wrapper)
            figures = profiler.end_step()

    A stage target is ``'attribute.path:method'`` relative to the model.
    Targets that the model lacks are ignored (listed in :attr:`missing`),
    so one set of stages serves TransReID (no neck) and PHA. Stage calls do
    not nest: a stage method called inside another stage's call is counted
    in the outer one. Backward time of a stage is the run time of the
    autograd nodes created during its forward calls; gradient accumulation
    into parameters and the engine's own work between nodes fall outside
    every stage.

    Spans are plain timed calls on any object (``(obj, method_name)``),
    e.g. the optimiser wrapper's ``backward`` and ``step``; they may contain
    stages.

    Args:
        model (nn.Module): The model to instrument.
        device (torch.device): Device the model runs on.
        stages (dict[str, Sequence[str]], optional): Stage label ->
            targets. Defaults to :data:`DEFAULT_STAGES`.
        spans (dict[str, tuple], optional): Span label -> ``(obj,
            method_name)``. Defaults to None.
    """

    def __init__(self,
                 model: nn.Module,
                 device: torch.device,
                 stages: Optional[Dict[str, Sequence[str]]] = None,
                 spans: Optional[Dict[str, tuple]] = None) -> None:
        stages = DEFAULT_STAGES if stages is None else stages
        for label, targets in stages.items():
            if isinstance(targets, str):
                raise TypeError(f'stage {label!r} needs a sequence of '
                                f'targets, got the string {targets!r}')
            for target in targets:
                if target.count(':') != 1:
                    raise ValueError(
                        f'stage target {target!r} of {label!r} must read '
                        '"attribute.path:method", e.g. "backbone:embed"')
        self.model = model
        self.device = torch.device(device)
        self.stages = {k: tuple(v) for k, v in stages.items()}
        self.spans = dict(spans or {})
        self.missing: List[str] = []
        self._clock = _Clock(self.device)
        self._patched: List[tuple] = []
        self._depth = 0
        self._records: List[tuple] = []
        self._shapes: Dict[str, List[tuple]] = {}
        self._step_marks: Optional[tuple] = None

    # -- installing and removing the wrappers ------------------------------
    def _patch(self, obj: Any, name: str, wrapper: Callable) -> None:
        had_own = name in vars(obj)
        original = vars(obj).get(name)
        self._patched.append((obj, name, had_own, original))
        object.__setattr__(obj, name, wrapper)

    def __enter__(self) -> 'StageProfiler':
        self.missing = []
        for label, targets in self.stages.items():
            for target in targets:
                path, method = target.split(':')
                obj = _resolve(self.model, path)
                func = getattr(obj, method, None) if obj is not None else None
                if not callable(func):
                    self.missing.append(target)
                    continue
                self._patch(obj, method, self._stage_wrapper(label, func))
        for label, (obj, method) in self.spans.items():
            func = getattr(obj, method, None)
            if not callable(func):
                raise ValueError(f'span {label!r}: {obj!r} has no method '
                                 f'{method!r}')
            self._patch(obj, method, self._span_wrapper(label, func))
        return self

    def __exit__(self, *exc_info) -> None:
        for obj, name, had_own, original in reversed(self._patched):
            if had_own:
                object.__setattr__(obj, name, original)
            else:
                object.__delattr__(obj, name)
        self._patched = []

    # -- wrappers ------------------------------------------------------------
    def _span_wrapper(self, label: str, func: Callable) -> Callable:

        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = self._clock.mark()
            out = func(*args, **kwargs)
            self._records.append((label, 'span', start, self._clock.mark()))
            return out

        return timed

    def _stage_wrapper(self, label: str, func: Callable) -> Callable:

        @functools.wraps(func)
        def timed(*args, **kwargs):
            if self._depth > 0:
                return func(*args, **kwargs)
            track_grad = torch.is_grad_enabled()
            first_seq = _next_sequence_nr() if track_grad else 0
            self._depth += 1
            start = self._clock.mark()
            try:
                out = func(*args, **kwargs)
            finally:
                self._depth -= 1
            self._records.append((label, 'forward', start, self._clock.mark()))
            first = next((a for a in args if isinstance(a, torch.Tensor)),
                         None)
            if first is not None:
                self._shapes.setdefault(f'{label}:{func.__name__}',
                                        []).append(tuple(first.shape))
            if track_grad:
                self._hook_backward(label, out, first_seq, _next_sequence_nr())
            return out

        return timed

    def _hook_backward(self, label: str, out: Any, first_seq: int,
                       end_seq: int) -> None:
        """Time every autograd node created in ``[first_seq, end_seq)``."""
        stack = _grad_fns(out)
        seen = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seq = node._sequence_nr()
            # Nodes outside the range were made before or after the call
            # (inputs, parameters' AccumulateGrad): they end the walk.
            if not first_seq <= seq < end_seq:
                continue
            seen.add(id(node))
            self._time_node(label, node)
            stack.extend(fn for fn, _ in node.next_functions)

    def _time_node(self, label: str, node: Any) -> None:
        marks = {}

        def before(grad_outputs):
            marks['start'] = self._clock.mark()

        def after(grad_inputs, grad_outputs):
            start = marks.pop('start', None)
            if start is not None:
                self._records.append(
                    (label, 'backward', start, self._clock.mark()))

        node.register_prehook(before)
        node.register_hook(after)

    # -- steps ---------------------------------------------------------------
    def start_step(self) -> None:
        """Mark the start of a training step."""
        self._records = []
        self._shapes = {}
        self._clock.sync()
        self._step_marks = (self._clock.mark(), )

    def end_step(self) -> Dict[str, Any]:
        """Mark the end of the step and return its figures.

        Returns:
            dict: ``step_ms``; ``stages``: label -> ``dict(forward_ms,
            backward_ms, calls)`` for every stage label (zeros for a stage
            whose targets the model lacks); ``spans``: label -> ms;
            ``shapes``: ``'label:method'`` -> shapes of the first tensor
            argument of each call.
        """
        if self._step_marks is None:
            raise RuntimeError('end_step() called before start_step()')
        end = self._clock.mark()
        self._clock.sync()
        start = self._step_marks[0]
        self._step_marks = None
        stages = {
            label: dict(forward_ms=0.0, backward_ms=0.0, calls=0)
            for label in self.stages
        }
        spans = {label: 0.0 for label in self.spans}
        for label, kind, mark0, mark1 in self._records:
            elapsed = self._clock.elapsed_ms(mark0, mark1)
            if kind == 'span':
                spans[label] += elapsed
            elif kind == 'forward':
                stages[label]['forward_ms'] += elapsed
                stages[label]['calls'] += 1
            else:
                stages[label]['backward_ms'] += elapsed
        return dict(
            step_ms=self._clock.elapsed_ms(start, end),
            stages=stages,
            spans=spans,
            shapes={
                k: list(v)
                for k, v in self._shapes.items()
            })


# -- memory -------------------------------------------------------------------
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


# -- model and data -----------------------------------------------------------
def strip_pretrained(cfg: Any) -> int:
    """Remove every ``Pretrained`` initialisation from a config, in place.

    An ``init_cfg`` of type ``'Pretrained'`` (alone or in a list) becomes
    None, other initialisers stay; a non-empty ``pretrained`` string key
    becomes None.

    Args:
        cfg (dict | list): A (model) config.

    Returns:
        int: Number of entries removed.
    """
    removed = 0
    if isinstance(cfg, dict):
        for key in list(cfg.keys()):
            value = cfg[key]
            if key == 'init_cfg':
                items = value if isinstance(value, list) else [value]
                kept = [
                    item for item in items
                    if not (isinstance(item, dict)
                            and item.get('type') == 'Pretrained')
                ]
                if len(kept) != len(items):
                    removed += len(items) - len(kept)
                    cfg[key] = (kept or None) if isinstance(value,
                                                            list) else None
            elif key == 'pretrained' and isinstance(value, str) and value:
                cfg[key] = None
                removed += 1
            else:
                removed += strip_pretrained(value)
    elif isinstance(cfg, list):
        for item in cfg:
            removed += strip_pretrained(item)
    return removed


def _find_key(cfg: Any, key: str) -> Optional[Any]:
    """First value of ``key`` in a nested config, depth first."""
    if isinstance(cfg, dict):
        if key in cfg and cfg[key] is not None:
            return cfg[key]
        for value in cfg.values():
            found = _find_key(value, key)
            if found is not None:
                return found
    elif isinstance(cfg, list):
        for item in cfg:
            found = _find_key(item, key)
            if found is not None:
                return found
    return None


def model_config(cfg: Config) -> ConfigDict:
    """The model config of a run config, random-initialised.

    The run's top-level ``data_preprocessor`` is put in the model config
    when the model has none (as the Runner does) and every ``Pretrained``
    initialisation is removed.

    Args:
        cfg (Config): A run config.

    Returns:
        ConfigDict: A copy of ``cfg.model``.

    Raises:
        KeyError: If the config has no ``model``.
    """
    if cfg.get('model') is None:
        raise KeyError(f'the config {cfg.filename} has no "model"')
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor',
                             copy.deepcopy(cfg.data_preprocessor))
    strip_pretrained(model_cfg)
    return model_cfg


def input_size_of(model_cfg: dict) -> tuple:
    """The ``(H, W)`` input size a model config declares (``img_size``).

    Args:
        model_cfg (dict): Model config.

    Returns:
        tuple[int, int]: ``(H, W)``.

    Raises:
        KeyError: If no ``img_size`` is found.
    """
    size = _find_key(model_cfg, 'img_size')
    if size is None:
        raise KeyError('the model config declares no img_size; pass the '
                       'input size explicitly')
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


def make_reid_batch(batch_size: int,
                    num_instances: int,
                    img_size: Sequence[int],
                    num_classes: int,
                    num_cameras: int = 1,
                    num_views: int = 1,
                    device: str = 'cpu',
                    seed: int = 0) -> Dict[str, list]:
    """A synthetic P x K batch in the format of ``PackReIDInputs``.

    Args:
        batch_size (int): B = P * K.
        num_instances (int): K, images per identity.
        img_size (Sequence[int]): ``(H, W)``.
        num_classes (int): Number of training identities; P distinct ones
            are drawn from them.
        num_cameras (int): Camera ids are drawn from ``[0, num_cameras)``.
            Defaults to 1.
        num_views (int): View ids are drawn from ``[0, num_views)``.
            Defaults to 1.
        device (str): Device of the image tensors. Defaults to 'cpu'.
        seed (int): Seed of the draw. Defaults to 0.

    Returns:
        dict: ``inputs``: B ``uint8`` tensors ``(3, H, W)``;
        ``data_samples``: B :class:`~mmpha.structures.ReIDDataSample` with
        ``gt_label``, ``cam_id`` and ``view_id``.

    Raises:
        ValueError: If B is not a multiple of K or there are fewer
            identities than P.
    """
    from mmpha.structures import ReIDDataSample
    if num_instances < 1 or batch_size % num_instances != 0:
        raise ValueError(f'batch_size={batch_size} must be a positive '
                         f'multiple of num_instances={num_instances}')
    num_ids = batch_size // num_instances
    if num_classes < num_ids:
        raise ValueError(f'a batch of {num_ids} identities needs '
                         f'num_classes >= {num_ids}, got {num_classes}')
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randperm(num_classes, generator=gen)[:num_ids]
    labels = ids.repeat_interleave(num_instances)
    cams = torch.randint(0, max(1, num_cameras), (batch_size, ), generator=gen)
    views = torch.randint(0, max(1, num_views), (batch_size, ), generator=gen)
    height, width = int(img_size[0]), int(img_size[1])
    images = torch.randint(
        0,
        256, (batch_size, 3, height, width),
        generator=gen,
        dtype=torch.uint8).to(device)
    samples = []
    for i in range(batch_size):
        sample = ReIDDataSample()
        sample.set_gt_label(int(labels[i]))
        sample.set_cam_id(int(cams[i]))
        sample.set_view_id(int(views[i]))
        samples.append(sample)
    return dict(inputs=list(images.unbind(0)), data_samples=samples)


def build_benchmark_model(cfg: Config, device: str = 'cpu') -> nn.Module:
    """Build the model of a run config with random weights, in train mode.

    Args:
        cfg (Config): A run config.
        device (str): Device. Defaults to 'cpu'.

    Returns:
        nn.Module: The model.
    """
    from mmpha.registry import MODELS
    model = MODELS.build(model_config(cfg))
    if hasattr(model, 'init_weights'):
        # MMEngine logs every parameter's initialisation at INFO level.
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    return model.to(device).train()


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float('nan')


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
                 seed: int = 0) -> None:
        if device not in ('cpu', 'cuda'):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available")
        if amp and device != 'cuda':
            raise ValueError('amp=True needs device="cuda"; mixed precision '
                             'is not benchmarked on CPU')
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f'batch_size must be an int >= 1, got {batch_size!r}')
        torch.manual_seed(seed)
        self.cfg = cfg
        self.device = torch.device(device)
        self.amp = amp
        self.batch_size = batch_size
        self.num_instances = num_instances
        model_cfg = model_config(cfg)
        self.img_size = tuple(img_size) if img_size is not None else \
            input_size_of(model_cfg)
        num_classes = _find_key(model_cfg, 'num_classes')
        if num_classes is None:
            raise KeyError('the model config declares no num_classes')
        self.batch = make_reid_batch(
            batch_size,
            num_instances,
            self.img_size,
            num_classes=int(num_classes),
            num_cameras=int(_find_key(model_cfg, 'camera_num') or 1),
            num_views=int(_find_key(model_cfg, 'view_num') or 1),
            device=device,
            seed=seed)

        self.rss_before_build_mib = current_rss_mib()
        self.model = build_benchmark_model(cfg, device)
        self.params_m = sum(p.numel() for p in self.model.parameters()) / 1e6
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
        if amp:
            self.optim_wrapper = AmpOptimWrapper(
                optimizer=self.optimizer, loss_scale='dynamic')
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
        self._clock = _Clock(self.device)
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
            return _median([getter(p) for p in profiles])

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
            median_ms=_median(self.step_ms),
            cpu_ms=list(self.cpu_ms),
            median_cpu_ms=_median(self.cpu_ms),
            peak_mib=peak,
            memory_kind=memory_kind,
            rss_before_build_mib=self.rss_before_build_mib,
            rss_after_build_mib=self.rss_after_build_mib,
            split=split,
            shapes=profiles[-1]['shapes'] if profiles else {},
            missing_stages=list(self.profiler.missing),
            pid=os.getpid())


def _check_counts(iters: int, warmup: int,
                  profile_iters: Optional[int]) -> None:
    for name, value, low in (('iters', iters, 1), ('warmup', warmup, 0),
                             ('profile_iters', profile_iters, 0)):
        if value is None and name == 'profile_iters':
            continue
        if not isinstance(value, int) or value < low:
            raise ValueError(f'{name} must be an int >= {low}, got {value!r}')


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
                         seed: int = 0) -> Dict[str, Any]:
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

    Returns:
        dict: See :meth:`TrainStepBenchmark.result`.

    Raises:
        ValueError: On a bad argument (the message names it).
    """
    _check_counts(iters, warmup, profile_iters)
    bench = TrainStepBenchmark(cfg, batch_size, num_instances, device, amp,
                               img_size, lr, seed)
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
                         seed: int = 0) -> Tuple[Dict, Dict]:
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

    Returns:
        tuple[dict, dict]: The results of A and B (see
        :meth:`TrainStepBenchmark.result`).
    """
    _check_counts(iters, warmup, profile_iters)
    benches = [
        TrainStepBenchmark(cfg, batch_size, num_instances, device, amp,
                           img_size, lr, seed) for cfg in (cfg_a, cfg_b)
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
