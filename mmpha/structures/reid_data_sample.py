"""The data sample that carries one re-ID image's labels and prediction."""
from numbers import Integral
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LabelType = Union[int, np.integer, torch.Tensor, np.ndarray, Sequence[int]]


def format_pid(value: LabelType) -> torch.Tensor:
    """Convert a person id to a ``LongTensor`` of shape ``(1, )``.

    Args:
        value (int | numpy.integer | torch.Tensor | numpy.ndarray |
            Sequence[int]): One person id, as a scalar or a one-element
            container.

    Returns:
        torch.Tensor: ``(1, )`` int64 tensor holding the id.

    Raises:
        TypeError: If ``value`` is not an integer or an integer container.
        ValueError: If ``value`` holds other than exactly one id.
    """
    if isinstance(value, bool):
        raise TypeError(f'A person id must be an integer, got bool {value}.')
    if isinstance(value, Integral):
        return torch.tensor([int(value)], dtype=torch.long)
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        value = torch.tensor(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError('A person id must be an int, a numpy array, a '
                        f'tensor or a sequence of int, got {type(value)}.')
    if value.is_floating_point() or value.is_complex():
        raise TypeError(f'A person id must be integral, got dtype '
                        f'{value.dtype}.')
    if value.numel() != 1:
        raise ValueError('A re-ID sample has exactly one person id, got '
                         f'{value.numel()} values: {value.tolist()}.')
    return value.reshape(1).long()


def _check_index(value: int, name: str) -> int:
    """Return ``value`` as ``int`` if it is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{name} must be an int, got {type(value)}.')
    if value < 0:
        raise ValueError(f'{name} must be >= 0 (0-based), got {value}.')
    return int(value)


class ReIDDataSample(BaseDataElement):
    """Labels, meta information and prediction of one re-ID image.

    Data fields (set with the ``set_*`` methods or plain attribute access):

    - ``gt_label`` (torch.Tensor): ``(1, )`` int64 person id. Training
      splits hold the id relabelled to ``0..P-1``; query and gallery splits
      hold the raw id of the dataset (``0`` marks a distractor).
    - ``cam_id`` (int): 0-based camera index.
    - ``view_id`` (int): 0-based view index, ``0`` when the dataset has no
      views.
    - ``is_query`` (bool): True for a query image, False for gallery and
      training images. Evaluation splits its inputs by this flag.
    - ``pred_feature`` (torch.Tensor): ``(D, )`` embedding written by the
      model in ``predict`` mode, D being the feature width.

    Meta information: ``img_path`` (str) and whatever
    :class:`~mmpha.datasets.transforms.PackReIDInputs` is asked to keep
    (``ori_shape``, ``img_shape``, ``flip``, ...).

    Because every field is a plain attribute, ``to_dict()`` returns them
    under the same names; evaluation code reads ``gt_label``, ``cam_id``,
    ``is_query`` and ``pred_feature`` from that dict.

    Examples:
        >>> import torch
        >>> from mmpha.structures import ReIDDataSample
        >>> sample = ReIDDataSample(
        ...     metainfo=dict(img_path='query/0001_c1s1_001051_00.jpg'))
        >>> sample = sample.set_gt_label(1).set_cam_id(0).set_view_id(0)
        >>> sample = sample.set_is_query(True)
        >>> sample.gt_label
        tensor([1])
        >>> sample = sample.set_pred_feature(torch.ones(4))
        >>> sorted(sample.to_dict())
        ['cam_id', 'gt_label', 'img_path', 'is_query', 'pred_feature', 'view_id']
        >>> sample.set_cam_id(-1)
        Traceback (most recent call last):
        ...
        ValueError: cam_id must be >= 0 (0-based), got -1.
    """  # noqa: E501

    def set_gt_label(self, value: LabelType) -> 'ReIDDataSample':
        """Set ``gt_label``, the person id.

        Args:
            value (int | numpy.integer | torch.Tensor | numpy.ndarray |
                Sequence[int]): The id, scalar or one-element container.

        Returns:
            ReIDDataSample: ``self``, so that setters can be chained.
        """
        self.set_field(format_pid(value), 'gt_label', dtype=torch.Tensor)
        return self

    def set_cam_id(self, value: int) -> 'ReIDDataSample':
        """Set ``cam_id``, the 0-based camera index.

        Args:
            value (int): Camera index, ``>= 0``.

        Returns:
            ReIDDataSample: ``self``.
        """
        self.set_field(_check_index(value, 'cam_id'), 'cam_id', dtype=int)
        return self

    def set_view_id(self, value: int) -> 'ReIDDataSample':
        """Set ``view_id``, the 0-based view index (0 when unknown).

        Args:
            value (int): View index, ``>= 0``.

        Returns:
            ReIDDataSample: ``self``.
        """
        self.set_field(_check_index(value, 'view_id'), 'view_id', dtype=int)
        return self

    def set_is_query(self, value: bool) -> 'ReIDDataSample':
        """Set ``is_query``.

        Args:
            value (bool): True for a query image.

        Returns:
            ReIDDataSample: ``self``.
        """
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f'is_query must be a bool, got {type(value)}.')
        self.set_field(bool(value), 'is_query', dtype=bool)
        return self

    def set_pred_feature(self, value: torch.Tensor) -> 'ReIDDataSample':
        """Set ``pred_feature``, the embedding of the image.

        Args:
            value (torch.Tensor): ``(D, )`` feature, D its width.

        Returns:
            ReIDDataSample: ``self``.
        """
        if not isinstance(value, torch.Tensor) or value.dim() != 1:
            shape = tuple(value.shape) if isinstance(value,
                                                     torch.Tensor) else None
            raise ValueError('pred_feature must be a 1-D tensor (D, ), got '
                             f'{type(value).__name__} of shape {shape}.')
        self.set_field(value, 'pred_feature', dtype=torch.Tensor)
        return self
