"""Batching, channel conversion and normalisation of re-ID images."""
from numbers import Number
from typing import Optional, Sequence

import torch
from mmengine.model import ImgDataPreprocessor

from mmpha.registry import MODELS


def _check_stats(value: Optional[Sequence[float]],
                 name: str) -> Optional[list]:
    """Return ``value`` as a list of 1 or 3 numbers, or None."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f'{name} must be a sequence of 1 or 3 numbers or '
                        f'None, got {value!r}.')
    if len(value) not in (1,
                          3) or not all(isinstance(v, Number) for v in value):
        raise ValueError(f'{name} must have 1 or 3 numbers, got {value!r}.')
    return [float(v) for v in value]


@MODELS.register_module()
class ReIDDataPreprocessor(ImgDataPreprocessor):
    """Stack, move and normalise re-ID images on the model's device.

    The images come from :class:`~mmpha.datasets.transforms.PackReIDInputs`
    as ``uint8`` tensors in the loaded channel order (BGR). This module
    stacks them into ``(B, 3, H, W)`` (B images of H x W), converts BGR to
    RGB when ``to_rgb`` is True and normalises with ``(x - mean) / std`` in
    0..255 units. The data samples are moved to the same device.

    PHA analyses the frequencies of the RGB image in ``[0, 1]``; it gets it
    back from the normalised batch with :meth:`to_unit_range` and returns
    to the model's input space with :meth:`from_unit_range`.

    Args:
        mean (Sequence[float], optional): Per-channel mean in 0..255 units,
            RGB order when ``to_rgb`` is True. None disables normalisation
            (together with ``std``). Defaults to ``(127.5, 127.5, 127.5)``.
        std (Sequence[float], optional): Per-channel standard deviation in
            0..255 units. Defaults to ``(127.5, 127.5, 127.5)``.
        to_rgb (bool): Whether to convert BGR inputs to RGB. Defaults to True.
        pad_size_divisor (int): Pad the batch so that H and W are multiples
            of this. Defaults to 1.
        pad_value (float): Value of the padded pixels. Defaults to 0.
        non_blocking (bool): Whether to copy to the device asynchronously.
            Defaults to False.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = (127.5, 127.5, 127.5),
                 std: Optional[Sequence[float]] = (127.5, 127.5, 127.5),
                 to_rgb: bool = True,
                 pad_size_divisor: int = 1,
                 pad_value: float = 0,
                 non_blocking: bool = False) -> None:
        mean = _check_stats(mean, 'mean')
        std = _check_stats(std, 'std')
        if (mean is None) != (std is None):
            raise ValueError('mean and std must both be set or both be None, '
                             f'got mean={mean}, std={std}.')
        if std is not None and any(s <= 0 for s in std):
            raise ValueError(f'std must be positive, got {std}.')
        if not isinstance(to_rgb, bool):
            raise TypeError(f'to_rgb must be a bool, got {to_rgb!r}.')
        if (isinstance(pad_size_divisor, bool)
                or not isinstance(pad_size_divisor, int)
                or pad_size_divisor < 1):
            raise ValueError('pad_size_divisor must be a positive int, got '
                             f'{pad_size_divisor!r}.')
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            bgr_to_rgb=to_rgb,
            non_blocking=non_blocking)
        self.to_rgb = to_rgb

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack, convert and normalise a batch from the dataloader.

        Args:
            data (dict): ``dict(inputs=list of (3, H, W) uint8 tensors or a
                (B, 3, H, W) tensor, data_samples=list of ReIDDataSample)``.
            training (bool): Whether the model is training. Unused: the
                augmentations live in the pipeline. Defaults to False.

        Returns:
            dict: ``dict(inputs=Tensor (B, 3, H, W) float, data_samples=list
            of ReIDDataSample or None)`` on the device.
        """
        inputs = data.get('inputs') if isinstance(data, dict) else None
        if inputs is None:
            raise TypeError('ReIDDataPreprocessor expects a dict with '
                            f'"inputs", got {type(data).__name__}.')
        return super().forward(data, training)

    def _stats(self, x: torch.Tensor):
        """Return ``(mean, std)`` shaped ``(1, C, 1, 1)`` on x's device."""
        if not self._enable_normalize:
            return None, None
        mean = self.mean.to(device=x.device, dtype=x.dtype).unsqueeze(0)
        std = self.std.to(device=x.device, dtype=x.dtype).unsqueeze(0)
        return mean, std

    def to_unit_range(self, inputs: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: return the images with values in [0, 1].

        Args:
            inputs (torch.Tensor): ``(B, C, H, W)`` normalised batch as
                returned by :meth:`forward` (RGB when ``to_rgb``).

        Returns:
            torch.Tensor: ``(B, C, H, W)`` images ``x / 255`` of the
            un-normalised pixels, in ``[0, 1]`` for inputs that came from
            ``uint8`` images. Exact inverse of :meth:`from_unit_range`.
        """
        self._check_batch(inputs)
        mean, std = self._stats(inputs)
        if mean is None:
            return inputs / 255.
        return (inputs * std + mean) / 255.

    def from_unit_range(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise images in [0, 1] the way :meth:`forward` does.

        Args:
            x (torch.Tensor): ``(B, C, H, W)`` images in ``[0, 1]``.

        Returns:
            torch.Tensor: ``(B, C, H, W)`` normalised images, the model's
            input space. Exact inverse of :meth:`to_unit_range`.
        """
        self._check_batch(x)
        mean, std = self._stats(x)
        if mean is None:
            return x * 255.
        return (x * 255. - mean) / std

    def _check_batch(self, x: torch.Tensor) -> None:
        """Raise if ``x`` is not a ``(B, C, H, W)`` float tensor."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else None
            raise ValueError('Expected a (B, C, H, W) tensor, got '
                             f'{type(x).__name__} of shape {shape}.')
        if self._enable_normalize and x.shape[1] != self.mean.shape[0] \
                and self.mean.shape[0] != 1:
            raise ValueError(f'Expected {self.mean.shape[0]} channels, got '
                             f'{x.shape[1]} (shape {tuple(x.shape)}).')
        if not x.is_floating_point():
            raise TypeError(f'Expected a float tensor, got {x.dtype}.')
