"""Image loading that names the file it failed on, or skips it on request."""
import logging
import threading
from typing import ClassVar, Literal, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.logging import print_log

from mmpha.registry import TRANSFORMS

OnError = Literal['raise', 'skip']
ON_ERROR_CHOICES: Tuple[str, ...] = ('raise', 'skip')


@TRANSFORMS.register_module()
class LoadReIDImage(BaseTransform):
    """Load an image from ``img_path``; fail loudly or skip a bad file.

    Like mmcv's ``LoadImageFromFile``, but a file that is missing, empty,
    truncated beyond decoding or not an image is never passed on silently and
    never stops a run with an anonymous ``AssertionError``:

    - ``on_error='raise'`` (default) raises :class:`OSError` whose message
      names the file and the reason;
    - ``on_error='skip'`` logs a warning naming the file, counts it in
      :attr:`num_skipped` and returns None. MMEngine's ``BaseDataset`` then
      draws another sample in training mode (up to its ``max_refetch``); in
      test mode it refuses a None sample, because skipping a query or gallery
      image would change the benchmark, so use ``'skip'`` in training
      pipelines only.

    The count is kept per process: with ``num_workers > 0`` each data loader
    worker counts the files it skipped, and every warning states the running
    count of its process.

    **Required keys:** ``img_path``.

    **Added keys:** ``img`` (``uint8`` or ``float32`` array ``(H, W, 3)``
    for colour images), ``img_shape``, ``ori_shape``.

    Args:
        on_error (str): ``'raise'`` or ``'skip'``. Defaults to ``'raise'``.
        to_float32 (bool): Convert the image to ``float32``. Defaults to
            False.
        color_type (str): ``flag`` of :func:`mmcv.imfrombytes` (``'color'``,
            ``'grayscale'``, ``'unchanged'``, ...). Defaults to ``'color'``.
        imdecode_backend (str): Decoding backend of
            :func:`mmcv.imfrombytes`. Defaults to ``'cv2'``.
        backend_args (dict, optional): File backend arguments for
            :func:`mmengine.fileio.get`. Defaults to None (local files).
    """

    #: Number of images this process has skipped since start-up (or since
    #: :meth:`reset_skipped`).
    num_skipped: ClassVar[int] = 0
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self,
                 on_error: OnError = 'raise',
                 to_float32: bool = False,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f'on_error must be one of {ON_ERROR_CHOICES}, '
                             f'got {on_error!r}')
        if not isinstance(to_float32, bool):
            raise TypeError(f'to_float32 must be a bool, got {to_float32!r}')
        if backend_args is not None and not isinstance(backend_args, dict):
            raise TypeError(
                f'backend_args must be a dict or None, got {backend_args!r}')
        self.on_error = on_error
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.backend_args = None if backend_args is None else dict(
            backend_args)

    @classmethod
    def reset_skipped(cls) -> None:
        """Set :attr:`num_skipped` of this process back to zero."""
        with cls._lock:
            cls.num_skipped = 0

    def _read(self, filename: str) -> np.ndarray:
        """Read and decode one file, raising ``OSError`` on any failure."""
        try:
            content = fileio.get(filename, backend_args=self.backend_args)
        except Exception as err:
            raise OSError(f'cannot read image file "{filename}": '
                          f'{type(err).__name__}: {err}') from err
        if len(content) == 0:
            raise OSError(f'cannot decode image file "{filename}": '
                          'the file is empty')
        try:
            img = mmcv.imfrombytes(
                content, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as err:
            raise OSError(f'cannot decode image file "{filename}" '
                          f'({len(content)} bytes) with the '
                          f'{self.imdecode_backend!r} backend: '
                          f'{type(err).__name__}: {err}') from err
        # OpenCV reports undecodable data by returning None, not by raising.
        if img is None or img.size == 0:
            raise OSError(f'cannot decode image file "{filename}" '
                          f'({len(content)} bytes) with the '
                          f'{self.imdecode_backend!r} backend: not an image '
                          'or corrupted')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``.

        Args:
            results (dict): Data info with at least ``img_path``.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape`` and
            ``ori_shape``; None when the file is bad and ``on_error`` is
            ``'skip'``.

        Raises:
            KeyError: If ``img_path`` is missing.
            OSError: If the file cannot be read or decoded and ``on_error``
                is ``'raise'``; the message names the file.
        """
        if 'img_path' not in results:
            raise KeyError('LoadReIDImage needs "img_path" in the data info; '
                           f'present keys: {sorted(results)}')
        filename = results['img_path']
        try:
            img = self._read(filename)
        except OSError as err:
            if self.on_error == 'raise':
                raise
            with LoadReIDImage._lock:
                LoadReIDImage.num_skipped += 1
                count = LoadReIDImage.num_skipped
            print_log(
                f'skipped an unreadable image ({err}); {count} image(s) '
                'skipped so far by this process',
                logger='current',
                level=logging.WARNING)
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        """Return the transform with its arguments."""
        return (f'{self.__class__.__name__}(on_error={self.on_error!r}, '
                f'to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')
