"""Image loading that names the file it failed on, or skips it on request."""
import io
import logging
import os
import stat
import threading
import warnings
from typing import ClassVar, Literal, Optional, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from mmengine.logging import print_log
from PIL import Image

from mmpha.registry import TRANSFORMS
from ..base_reid_dataset import file_kind

OnError = Literal['raise', 'skip']
ON_ERROR_CHOICES: Tuple[str, ...] = ('raise', 'skip')
#: ``max_pixels`` value that means "Pillow's decompression-bomb warning
#: limit", ``PIL.Image.MAX_IMAGE_PIXELS``, read each time an image is
#: loaded.
PILLOW_LIMIT = 'pillow'


def read_image_size(content: bytes) -> Optional[Tuple[int, int]]:
    """Read the size that an image's header declares, without decoding it.

    ``PIL.Image.open`` parses only the header; the pixel data is never
    read.

    Args:
        content (bytes): The bytes of an image file.

    Returns:
        tuple[int, int] | None: ``(width, height)``, or None when Pillow
        does not recognise the header (the decoder then reports the file).

    Raises:
        PIL.Image.DecompressionBombError: When the header declares more
            than twice ``PIL.Image.MAX_IMAGE_PIXELS``: Pillow refuses to
            return such an image even unread.
    """
    with warnings.catch_warnings():
        # The caller compares the size with its own limit.
        warnings.simplefilter('ignore', Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as img:
                return img.size
        except Image.DecompressionBombError:
            raise
        except Exception:
            return None


@TRANSFORMS.register_module()
class LoadReIDImage(BaseTransform):
    """Load an image from ``img_path``; fail loudly or skip a bad file.

    Like mmcv's ``LoadImageFromFile``, but a file that is missing, empty,
    truncated beyond decoding or not an image is never passed on silently and
    never stops a run with an anonymous ``AssertionError``:

    An image whose header declares more than ``max_pixels`` pixels (width
    times height) is refused before it is decoded, so that a small file
    that would decode to gigabytes (a decompression bomb) costs nothing.
    A local path that is a directory, FIFO or device is refused from
    ``os.stat`` without being opened (reading a FIFO would block).

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
        max_pixels (int | str | None): The largest ``width * height``
            accepted, checked from the header before decoding. ``'pillow'``
            uses ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's decompression-bomb
            warning limit, 89,478,485 by default), read at each call so
            that a change of it applies; None disables the check. Pillow
            refuses to read the header of an image over twice its own
            limit, so a ``max_pixels`` above that also needs a larger
            ``PIL.Image.MAX_IMAGE_PIXELS``. Defaults to ``'pillow'``.
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
                 backend_args: Optional[dict] = None,
                 max_pixels: Union[int, Literal['pillow'],
                                   None] = PILLOW_LIMIT) -> None:
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f'on_error must be one of {ON_ERROR_CHOICES}, '
                             f'got {on_error!r}')
        if not isinstance(to_float32, bool):
            raise TypeError(f'to_float32 must be a bool, got {to_float32!r}')
        if backend_args is not None and not isinstance(backend_args, dict):
            raise TypeError(
                f'backend_args must be a dict or None, got {backend_args!r}')
        if max_pixels is not None and max_pixels != PILLOW_LIMIT and (
                isinstance(max_pixels, bool)
                or not isinstance(max_pixels, int) or max_pixels < 1):
            raise ValueError('max_pixels must be a positive int, '
                             f'{PILLOW_LIMIT!r} or None, got {max_pixels!r}')
        self.max_pixels = max_pixels
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

    def pixel_limit(self) -> Optional[int]:
        """Return the pixel limit in force now.

        Returns:
            int | None: ``max_pixels``, or ``PIL.Image.MAX_IMAGE_PIXELS``
            for ``'pillow'``; None when there is no limit.
        """
        if self.max_pixels == PILLOW_LIMIT:
            return Image.MAX_IMAGE_PIXELS
        return self.max_pixels

    def _check_regular_file(self, filename: str) -> None:
        """Refuse a local path that is not a regular file, without opening
        it."""
        backend = fileio.get_file_backend(
            filename, backend_args=self.backend_args)
        if not isinstance(backend, fileio.LocalBackend):
            return
        try:
            mode = os.stat(filename).st_mode
        except OSError as err:
            raise OSError(f'cannot read image file "{filename}": '
                          f'{type(err).__name__}: {err}') from err
        if not stat.S_ISREG(mode):
            raise OSError(f'refused image file "{filename}": it is a '
                          f'{file_kind(mode)}, not a regular file')

    def _check_size(self, filename: str, width: int, height: int,
                    limit: Optional[int], when: str) -> None:
        """Raise ``OSError`` when ``width * height`` exceeds ``limit``."""
        if limit is not None and width * height > limit:
            raise OSError(
                f'refused image file "{filename}": {when} {width} x {height} '
                f'= {width * height} pixels, over the limit of {limit} '
                f'(max_pixels={self.max_pixels!r}; raise it, or set None, '
                'to accept larger images)')

    def _read(self, filename: str) -> np.ndarray:
        """Read and decode one file, raising ``OSError`` on any failure."""
        self._check_regular_file(filename)
        try:
            content = fileio.get(filename, backend_args=self.backend_args)
        except Exception as err:
            raise OSError(f'cannot read image file "{filename}": '
                          f'{type(err).__name__}: {err}') from err
        if len(content) == 0:
            raise OSError(f'cannot decode image file "{filename}": '
                          'the file is empty')
        limit = self.pixel_limit()
        if limit is not None:
            try:
                size = read_image_size(content)
            except Image.DecompressionBombError as err:
                raise OSError(
                    f'refused image file "{filename}" without decoding it: '
                    f'{err} (the limit is {limit} pixels, '
                    f'max_pixels={self.max_pixels!r})') from err
            if size is not None:
                self._check_size(filename, *size, limit,
                                 'not decoded: its header declares')
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
        # A header that Pillow does not read is checked once decoded (the
        # decoder has its own, larger, limit).
        self._check_size(filename, img.shape[1], img.shape[0], limit,
                         'decoded to')
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
                f'backend_args={self.backend_args}, '
                f'max_pixels={self.max_pixels!r})')
