"""Split a training step into named stages, forward and backward.

Forward time is measured around selected methods (``neck.forward``,
``backbone.embed``, ...); backward time of a stage is the sum of the run
times of the autograd nodes that its forward calls created, measured with
node pre- and post-hooks. On CUDA every mark is a CUDA event, so the figures
are device time and the instrumentation does not synchronise inside the
step.
"""
import functools
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

from .timing import Clock

#: Default stages: label -> ``'attribute.path:method'`` targets. The
#: frequency stage is PHA's neck (DWT, HF map, low-frequency drop, patch
#: selection); the backbone stage is the shared patch embedding and first
#: L - 1 blocks, over every token sequence the model feeds them.
DEFAULT_STAGES: Dict[str, Sequence[str]] = {
    'frequency': ('neck:forward', ),
    'backbone': ('backbone:embed', 'backbone:forward_blocks'),
}


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
        self._clock = Clock(self.device)
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
