"""Small tensor helpers shared by the losses, the metric and the APIs.

Each concept has one definition here: the pairwise distance between two sets
of features, the names of the distance metrics, the same-label pair masks of
metric learning and of the re-ID protocol, and the check of a positive
integer argument. The module imports nothing from mmpha, so every layer can
use it.
"""
from numbers import Integral
from typing import Literal, Optional, Tuple, Union, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

#: Distances a user can choose for retrieval: the Euclidean distance and
#: one minus the cosine similarity.
DistMetric = Literal['euclidean', 'cosine']
DIST_METRICS: Tuple[str, ...] = get_args(DistMetric)

#: What :func:`pairwise_distance` computes: a :data:`DistMetric`, or the
#: squared Euclidean distance (the original distance of re-ranking).
Distance = Union[DistMetric, Literal['sqeuclidean']]
DISTANCES: Tuple[str, ...] = DIST_METRICS + ('sqeuclidean', )


class IntTypeError(TypeError, ValueError):
    """A value that should be an integer is not one.

    It is a ``ValueError`` as well (as numpy's ``AxisError`` is both an
    ``IndexError`` and a ``ValueError``), because the argument checks that
    :func:`check_positive_int` replaces raised ``ValueError`` for any bad
    value, and callers catch that.
    """


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Check that an argument is an integer ``>= minimum``.

    Args:
        value (object): The value given; any :class:`numbers.Integral`
            except ``bool`` (numpy integers included).
        name (str): The argument's name, used in the message.
        minimum (int): The smallest value allowed. Defaults to 1.

    Returns:
        int: ``value`` as a Python int.

    Raises:
        IntTypeError: (a ``TypeError`` and a ``ValueError``) if ``value`` is
            not an integer, e.g. ``2.5``, ``'3'`` or ``True``.
        ValueError: If ``value < minimum``.

    Examples:
        >>> check_int(0, 'shift', minimum=0)
        0
        >>> check_int(-1, 'shift', minimum=0)
        Traceback (most recent call last):
        ...
        ValueError: shift must be an int >= 0, got -1.
    """
    wanted = 'a positive int' if minimum == 1 else f'an int >= {minimum}'
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise IntTypeError(f'{name} must be {wanted}, got {value!r} '
                           f'({type(value).__name__}).')
    if value < minimum:
        raise ValueError(f'{name} must be {wanted}, got {value!r}.')
    return int(value)


def check_positive_int(value: object, name: str) -> int:
    """Check that an argument is an integer ``>= 1``.

    Args:
        value (object): The value given; any :class:`numbers.Integral`
            except ``bool`` (numpy integers included).
        name (str): The argument's name, used in the message.

    Returns:
        int: ``value`` as a Python int.

    Raises:
        IntTypeError: (a ``TypeError`` and a ``ValueError``) if ``value`` is
            not an integer, e.g. ``2.5``, ``'3'`` or ``True``.
        ValueError: If ``value < 1``.

    Examples:
        >>> check_positive_int(4, 'topk')
        4
        >>> check_positive_int(0, 'topk')
        Traceback (most recent call last):
        ...
        ValueError: topk must be a positive int, got 0.
    """
    return check_int(value, name, minimum=1)


def check_dist_metric(value: object, name: str = 'metric') -> DistMetric:
    """Check that an argument names a :data:`DistMetric`.

    Args:
        value (object): The value given.
        name (str): The argument's name, used in the message. Defaults to
            ``'metric'``.

    Returns:
        str: ``value``.

    Raises:
        ValueError: If ``value`` is not one of :data:`DIST_METRICS`.
    """
    if value not in DIST_METRICS:
        names = ' or '.join(repr(m) for m in DIST_METRICS)
        raise ValueError(f'{name} must be {names}, got {value!r}.')
    return value  # type: ignore[return-value]


def check_feature_pair(x: object,
                       y: object,
                       names: Tuple[str, str] = ('x', 'y'),
                       allow_empty: bool = True) -> None:
    """Check that two feature sets are ``(M, D)`` and ``(N, D)`` tensors.

    Args:
        x (object): The first set, expected ``(M, D)``.
        y (object): The second set, expected ``(N, D)``.
        names (tuple[str, str]): Their names in the messages. Defaults to
            ``('x', 'y')``.
        allow_empty (bool): Accept ``M = 0`` or ``N = 0``. Defaults to True.

    Raises:
        ValueError: If one is not a 2-D tensor (or is empty when that is
            not allowed), or the widths D differ.
    """
    kind = '2-D' if allow_empty else 'non-empty 2-D'
    for name, feats in zip(names, (x, y)):
        if (not isinstance(feats, Tensor) or feats.dim() != 2
                or (not allow_empty and feats.shape[0] == 0)):
            shape = tuple(feats.shape) if isinstance(feats, Tensor) else None
            raise ValueError(f'{name} must be a {kind} tensor (N, D), got '
                             f'{type(feats).__name__} of shape {shape}.')
    if x.shape[1] != y.shape[1]:  # type: ignore[union-attr]
        raise ValueError(f'{names[0]} and {names[1]} feature widths differ: '
                         f'{x.shape[1]} vs {y.shape[1]}.')  # type: ignore


def pairwise_distance(x: Tensor,
                      y: Optional[Tensor] = None,
                      metric: Distance = 'euclidean',
                      *,
                      normalized: bool = False,
                      eps: float = 0.0) -> Tensor:
    """Distances between every row of ``x`` and every row of ``y``.

    The squared Euclidean distance is expanded as
    ``(|x|^2 + |y|^2) - 2 x.y``, so that the only ``(M, N)`` work is one
    matrix product and two elementwise passes (``torch.cdist`` is slower and
    holds more memory); rounding can make it slightly negative, hence the
    lower clamp at ``eps``. The cosine distance is ``1 - x.y`` on unit
    vectors, clamped at 0. The evaluation calls it chunk after chunk of
    queries against the whole gallery: each call allocates only ``(M, N)``
    temporaries, and the operations are in place unless a gradient is
    needed (the results are the same either way). Half-precision inputs are
    computed in float32 so that mixed-precision training does not overflow.

    Args:
        x (Tensor): ``(M, D)`` features, D the feature width.
        y (Tensor, optional): ``(N, D)`` features. Defaults to None (``x``
            itself, ``N = M``).
        metric (str): ``'euclidean'``, ``'sqeuclidean'`` (squared Euclidean)
            or ``'cosine'`` (one minus cosine similarity). Defaults to
            ``'euclidean'``.
        normalized (bool): ``x`` and ``y`` already have unit L2 norm, which
            spares ``'cosine'`` a normalised copy of both (worth it when the
            same gallery is compared chunk after chunk); the Euclidean
            distances ignore it. Keyword only. Defaults to False.
        eps (float): Lower clamp of the squared Euclidean distance before
            the square root. A loss needs ``eps > 0``: the gradient of
            ``sqrt`` is infinite at 0 (every diagonal entry). Keyword only.
            Defaults to 0.

    Returns:
        Tensor: ``(M, N)`` distances, non-negative, in the dtype of the
        inputs (float32 for half-precision ones).

    Raises:
        ValueError: If ``metric`` is unknown or the shapes do not fit.

    Examples:
        >>> x = torch.tensor([[0., 0.], [3., 4.]])
        >>> pairwise_distance(x)
        tensor([[0., 5.],
                [5., 0.]])
    """
    if metric not in DISTANCES:
        raise ValueError(f'metric must be one of {DISTANCES}, got {metric!r}.')
    check_feature_pair(x, x if y is None else y)
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if y is None:
        y = x
    elif y.dtype in (torch.float16, torch.bfloat16):
        y = y.float()
    needs_grad = torch.is_grad_enabled() and (x.requires_grad
                                              or y.requires_grad)

    if metric == 'cosine':
        if not normalized:
            x = F.normalize(x, dim=1)
            y = x if y is x else F.normalize(y, dim=1)
        sim = x @ y.t()
        if needs_grad:
            return (1 - sim).clamp(min=0)
        return sim.neg_().add_(1).clamp_(min=0)

    x_sq = x.pow(2).sum(1)
    y_sq = x_sq if y is x else y.pow(2).sum(1)
    if needs_grad:
        sq_dist = (x_sq[:, None] + y_sq[None]) - 2 * (x @ y.t())
        sq_dist = sq_dist.clamp(min=eps)
        return sq_dist if metric == 'sqeuclidean' else sq_dist.sqrt()
    # Same operations in place: one (M, N) buffer besides the product.
    sq_dist = torch.add(x_sq[:, None], y_sq[None])
    sq_dist.sub_(x @ y.t(), alpha=2).clamp_(min=eps)
    return sq_dist if metric == 'sqeuclidean' else sq_dist.sqrt_()


def pair_masks(labels: Tensor,
               other_labels: Optional[Tensor] = None,
               exclude_diagonal: bool = False) -> Tuple[Tensor, Tensor]:
    """Same-label and different-label masks of every pair.

    Metric learning calls it with one batch of labels (``exclude_diagonal``:
    an anchor is not its own positive); the re-ID protocol with query and
    gallery ids, and with query and gallery cameras (the "junk" images have
    the same id *and* the same camera).

    Args:
        labels (Tensor): ``(M, )`` integer labels.
        other_labels (Tensor, optional): ``(N, )`` integer labels. Defaults
            to None (``labels`` itself, ``N = M``).
        exclude_diagonal (bool): Leave the pairs ``(i, i)`` out of the
            positives (they stay out of the negatives). Defaults to False.

    Returns:
        tuple[Tensor, Tensor]: ``positive`` and ``negative``, ``(M, N)``
        bool: the pairs with equal labels (without the diagonal if
        ``exclude_diagonal``) and the pairs with different labels.

    Raises:
        ValueError: If the labels are not 1-D.

    Examples:
        >>> pos, neg = pair_masks(torch.tensor([3, 3, 5]),
        ...                       exclude_diagonal=True)
        >>> pos.int().tolist(), neg.int().tolist()
        ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    """
    other = labels if other_labels is None else other_labels
    if labels.dim() != 1 or other.dim() != 1:
        raise ValueError(f'labels must be 1-D, got shapes '
                         f'{tuple(labels.shape)} and {tuple(other.shape)}.')
    same = labels[:, None] == other.to(labels.device)[None]
    negative = ~same
    if exclude_diagonal:
        diagonal = torch.eye(
            same.shape[0], same.shape[1], dtype=torch.bool, device=same.device)
        same &= ~diagonal
    return same, negative
