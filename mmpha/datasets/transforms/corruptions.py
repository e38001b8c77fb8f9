"""Image corruptions of the frequency-robustness benchmark.

Each corruption is a test-pipeline transform with a ``severity`` from 0
(the identity) to 5 (the strongest). It works on the ``img`` of the results
(an ``HxWxC`` array as :class:`~mmpha.datasets.transforms.LoadReIDImage`
gives it, ``uint8`` or floating point in the 0-255 range) and keeps its
dtype and shape, so it can sit anywhere after the loading transform.

Where a corruption is random (the noise), its random generator is derived
from ``seed``, the transform's name and the image's ``img_path`` (or its
``sample_idx`` when there is no path), never from a global state: the same
image gets the same corruption whatever the number of data loader workers
and whatever the order of the samples.

By default only queries are corrupted (``apply_to='query'``: the samples
whose ``is_query`` is True, as the re-ID datasets set it), the common
setting of a clean gallery and degraded probes; ``'gallery'`` and
``'all'`` corrupt the gallery images or every image.

Symbols used in the shapes: ``H x W`` image size, ``C`` channels.
"""
import copy
import hashlib
from typing import Dict, List, Literal, Optional, Sequence, Tuple, get_args

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmpha.registry import TRANSFORMS
from mmpha.utils import check_int

ApplyTo = Literal['query', 'gallery', 'all']
APPLY_TO: Tuple[str, ...] = get_args(ApplyTo)
#: The strongest severity; 0 is the identity.
MAX_SEVERITY = 5
_LOADING_TRANSFORMS = ('LoadReIDImage', 'LoadImageFromFile',
                       'mmcv.LoadImageFromFile',
                       'mmpretrain.LoadImageFromFile')


def _to_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64)


def _like(out: np.ndarray, img: np.ndarray) -> np.ndarray:
    """``out`` (float) in the dtype of ``img``, rounded and clipped to the
    0-255 range for integer images."""
    if np.issubdtype(img.dtype, np.integer):
        return np.clip(np.rint(out), 0, 255).astype(img.dtype)
    return out.astype(img.dtype)


class BaseCorruption(BaseTransform):
    """A corruption of the test images at a severity from 0 to 5.

    Subclasses set :attr:`params` (the parameter of severities 1 to 5) and
    implement :meth:`corrupt`.

    **Required keys:** ``img``; ``is_query`` unless ``apply_to='all'``;
    ``img_path`` or ``sample_idx`` for a random corruption.

    **Modified keys:** ``img``.

    Args:
        severity (int): 0 (identity) to 5 (strongest). Defaults to 3.
        apply_to (str): ``'query'``, ``'gallery'`` or ``'all'``: which
            samples are corrupted. Defaults to ``'query'``.
        seed (int): Base seed of the per-image random generator. Defaults
            to 0.
    """

    #: The corruption's parameter at severities 1 to 5.
    params: Tuple[float, ...] = ()
    #: Whether :meth:`corrupt` draws random numbers.
    random: bool = False

    def __init__(self,
                 severity: int = 3,
                 apply_to: ApplyTo = 'query',
                 seed: int = 0) -> None:
        self.severity = check_int(severity, 'severity', minimum=0)
        if self.severity > MAX_SEVERITY:
            raise ValueError(f'severity must be an int in [0, {MAX_SEVERITY}'
                             f'], got {severity!r}.')
        if apply_to not in APPLY_TO:
            raise ValueError(
                f'apply_to must be one of {APPLY_TO}, got {apply_to!r}.')
        self.apply_to = apply_to
        self.seed = check_int(seed, 'seed', minimum=0)

    @property
    def param(self) -> Optional[float]:
        """The parameter at this severity (None at severity 0)."""
        return self.params[self.severity - 1] if self.severity else None

    def applies(self, results: dict) -> bool:
        """Whether this sample is corrupted under ``apply_to``."""
        if self.severity == 0:
            return False
        if self.apply_to == 'all':
            return True
        if 'is_query' not in results:
            raise KeyError(
                f'{type(self).__name__}(apply_to={self.apply_to!r}) needs '
                '"is_query" in the results to tell queries from gallery '
                "images; the re-ID datasets set it. Use apply_to='all' for "
                'data without it.')
        return bool(results['is_query']) == (self.apply_to == 'query')

    def rng(self, results: dict) -> np.random.Generator:
        """The random generator of one image.

        It depends only on ``seed``, the class name and the image's
        ``img_path`` (or ``sample_idx``), through SHA-256.
        """
        key = results.get('img_path') or None
        if key is None:
            if 'sample_idx' not in results:
                raise KeyError(
                    f'{type(self).__name__} needs "img_path" or '
                    '"sample_idx" in the results to seed its per-image '
                    'random generator.')
            key = f'#{results["sample_idx"]}'
        text = f'{self.seed}:{type(self).__name__}:{key}'.encode()
        digest = hashlib.sha256(text).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], 'little'))

    def corrupt(self, img: np.ndarray,
                rng: Optional[np.random.Generator]) -> np.ndarray:
        """Corrupt one image at :attr:`param`.

        Args:
            img (np.ndarray): ``(H, W, C)`` or ``(H, W)`` image, 0-255.
            rng (np.random.Generator, optional): The image's generator
                (None for a deterministic corruption).

        Returns:
            np.ndarray: The corrupted image, same shape and dtype.
        """
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Corrupt ``results['img']`` if the sample is selected."""
        if not self.applies(results):
            return results
        img = results['img']
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise TypeError(f'{type(self).__name__} expects results["img"] '
                            'to be an (H, W, C) or (H, W) array, got '
                            f'{type(img).__name__} of shape '
                            f'{getattr(img, "shape", None)}.')
        rng = self.rng(results) if self.random else None
        results['img'] = self.corrupt(img, rng)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(severity={self.severity}, '
                f'apply_to={self.apply_to!r}, seed={self.seed})')


@TRANSFORMS.register_module()
class GaussianBlurCorruption(BaseCorruption):
    """Gaussian blur; sigma 1, 2, 3, 4, 6 pixels at severities 1 to 5.

    The border is reflected (OpenCV's ``BORDER_REFLECT_101``).
    """

    params = (1.0, 2.0, 3.0, 4.0, 6.0)

    def corrupt(self, img, rng):
        out = cv2.GaussianBlur(
            _to_float(img), (0, 0),
            sigmaX=self.param,
            sigmaY=self.param,
            borderType=cv2.BORDER_REFLECT_101)
        return _like(out.reshape(img.shape), img)


@TRANSFORMS.register_module()
class DownscaleCorruption(BaseCorruption):
    """Downscale by 2, 3, 4, 6, 8 then upscale back (severities 1 to 5).

    Down with area averaging, up bilinearly, to the original ``H x W``;
    each side keeps at least one pixel.
    """

    params = (2.0, 3.0, 4.0, 6.0, 8.0)

    def corrupt(self, img, rng):
        h, w = img.shape[:2]
        small = (max(1, round(w / self.param)), max(1, round(h / self.param)))
        down = cv2.resize(_to_float(img), small, interpolation=cv2.INTER_AREA)
        up = cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)
        return _like(up.reshape(img.shape), img)


@TRANSFORMS.register_module()
class JPEGCorruption(BaseCorruption):
    """JPEG compression at quality 25, 18, 15, 10, 7 (severities 1 to 5).

    Encoded and decoded in memory with OpenCV (channels as given; the
    re-ID pipelines load BGR, which is what OpenCV expects).
    """

    params = (25, 18, 15, 10, 7)

    def corrupt(self, img, rng):
        pixels = np.clip(np.rint(_to_float(img)), 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode('.jpg', pixels,
                               [cv2.IMWRITE_JPEG_QUALITY,
                                int(self.param)])
        if not ok:
            raise RuntimeError('OpenCV failed to JPEG-encode an image of '
                               f'shape {img.shape}.')
        flag = cv2.IMREAD_GRAYSCALE if img.ndim == 2 or img.shape[
            2] == 1 else cv2.IMREAD_COLOR
        out = cv2.imdecode(buf, flag)
        return _like(_to_float(out).reshape(img.shape), img)


@TRANSFORMS.register_module()
class GaussianNoiseCorruption(BaseCorruption):
    """Additive Gaussian noise, std 0.08, 0.12, 0.18, 0.26, 0.38 of the
    0-255 range (severities 1 to 5), drawn per image (see :meth:`rng`)."""

    params = (0.08, 0.12, 0.18, 0.26, 0.38)
    random = True

    def corrupt(self, img, rng):
        noise = rng.normal(0.0, self.param * 255.0, size=img.shape)
        return _like(np.clip(_to_float(img) + noise, 0, 255), img)


def haar_dwt2(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """One level of the orthonormal 2-D Haar transform.

    Args:
        x (np.ndarray): ``(H, W, ...)`` array, H and W even.

    Returns:
        tuple[np.ndarray, np.ndarray]: The low band ``(H/2, W/2, ...)``
        and the three detail bands stacked ``(3, H/2, W/2, ...)``
        (horizontal, vertical and diagonal detail).
    """
    if x.shape[0] % 2 or x.shape[1] % 2:
        raise ValueError(
            f'haar_dwt2 needs an even height and width, got {x.shape[:2]}.')
    a, b = x[0::2, 0::2], x[0::2, 1::2]
    c, d = x[1::2, 0::2], x[1::2, 1::2]
    low = (a + b + c + d) / 2
    high = np.stack([(a + b - c - d) / 2, (a - b + c - d) / 2,
                     (a - b - c + d) / 2])
    return low, high


def haar_idwt2(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Invert :func:`haar_dwt2`.

    Args:
        low (np.ndarray): ``(h, w, ...)`` low band.
        high (np.ndarray): ``(3, h, w, ...)`` detail bands.

    Returns:
        np.ndarray: ``(2h, 2w, ...)`` signal.
    """
    lh, hl, hh = high
    out = np.empty(
        (2 * low.shape[0], 2 * low.shape[1]) + low.shape[2:],
        dtype=np.result_type(low, high))
    out[0::2, 0::2] = (low + lh + hl + hh) / 2
    out[0::2, 1::2] = (low + lh - hl - hh) / 2
    out[1::2, 0::2] = (low - lh + hl - hh) / 2
    out[1::2, 1::2] = (low - lh - hl + hh) / 2
    return out


def remove_high_frequency(img: np.ndarray, levels: int) -> np.ndarray:
    """Zero the Haar detail bands of the first ``levels`` levels.

    The image is decomposed ``levels`` times (:func:`haar_dwt2` on the low
    band), every detail band is set to zero and the image is rebuilt from
    the low band alone. For a Haar basis this replaces every aligned
    ``2^levels x 2^levels`` block by its mean. A side that is not a
    multiple of ``2^levels`` is padded by repeating its last row / column
    and cropped back afterwards.

    Args:
        img (np.ndarray): ``(H, W, ...)`` image.
        levels (int): Number of levels, >= 1.

    Returns:
        np.ndarray: ``(H, W, ...)`` float64 low-pass image.
    """
    levels = check_int(levels, 'levels', minimum=1)
    h, w = img.shape[:2]
    block = 2**levels
    pad = [(0, -h % block), (0, -w % block)] + [(0, 0)] * (img.ndim - 2)
    x = np.pad(_to_float(img), pad, mode='edge')
    for _ in range(levels):
        x, _high = haar_dwt2(x)
    for _ in range(levels):
        x = haar_idwt2(x, np.zeros((3, ) + x.shape))
    return x[:h, :w]


@TRANSFORMS.register_module()
class WaveletHFRemoval(BaseCorruption):
    """Remove the high frequencies: zero the Haar detail bands (LH, HL, HH)
    of 1 to 5 levels at severities 1 to 5 and invert the transform.

    It is the opposite of PHA's augmentation, which enhances the
    high-frequency patches: it tests how much a model relies on them. See
    :func:`remove_high_frequency`.
    """

    params = (1, 2, 3, 4, 5)

    def corrupt(self, img, rng):
        return _like(remove_high_frequency(img, int(self.param)), img)


#: Short names of the corruptions (the robustness tool's ``--corruptions``)
#: and their transform types.
CORRUPTIONS: Dict[str, str] = {
    'blur': 'GaussianBlurCorruption',
    'downscale': 'DownscaleCorruption',
    'jpeg': 'JPEGCorruption',
    'noise': 'GaussianNoiseCorruption',
    'wavelet_hf': 'WaveletHFRemoval',
}


def corruption_cfg(name: str,
                   severity: int,
                   apply_to: ApplyTo = 'query',
                   seed: int = 0) -> dict:
    """The transform config of a corruption given by its short name.

    Args:
        name (str): A key of :data:`CORRUPTIONS`.
        severity (int): 0 to 5.
        apply_to (str): See :class:`BaseCorruption`. Defaults to
            ``'query'``.
        seed (int): Base seed. Defaults to 0.

    Returns:
        dict: e.g. ``dict(type='JPEGCorruption', severity=3, ...)``.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f'Unknown corruption {name!r}; expected one of '
                         f'{sorted(CORRUPTIONS)}.')
    return dict(
        type=CORRUPTIONS[name],
        severity=severity,
        apply_to=apply_to,
        seed=seed)


def insert_after_loading(pipeline: Sequence[dict],
                         transform: dict) -> List[dict]:
    """A copy of a pipeline with ``transform`` right after image loading.

    Args:
        pipeline (Sequence[dict]): Transform configs, one of which loads
            the image (``LoadReIDImage`` or ``LoadImageFromFile``).
        transform (dict): The transform config to insert.

    Returns:
        list[dict]: The new pipeline (the input is not changed).

    Raises:
        ValueError: If no transform of the pipeline loads the image.
    """
    out = [copy.deepcopy(t) for t in pipeline]
    for i, t in enumerate(out):
        if t.get('type') in _LOADING_TRANSFORMS:
            out.insert(i + 1, copy.deepcopy(transform))
            return out
    types = [t.get('type') for t in out]
    raise ValueError('Found no image-loading transform (one of '
                     f'{_LOADING_TRANSFORMS}) in the pipeline {types}.')
