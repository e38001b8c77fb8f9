"""Drawing of attention / saliency maps over the images they explain.

Images are ``HxWx3`` ``uint8`` arrays in BGR order (OpenCV's); maps are
``(H, W)`` float arrays in ``[0, 1]``.
"""
from typing import Dict, List, Sequence

import cv2
import numpy as np

#: Column titles of the methods of :func:`mmpha.apis.attention_maps`.
METHOD_TITLES = dict(rollout='rollout', cls='CLS attn', gradcam='Grad-CAM')


def heatmap(map01: np.ndarray) -> np.ndarray:
    """Colour-map a ``[0, 1]`` map (JET, no rescaling).

    Args:
        map01 (numpy.ndarray): ``(H, W)`` values in ``[0, 1]``.

    Returns:
        numpy.ndarray: ``(H, W, 3)`` uint8 BGR heat map.
    """
    map01 = np.asarray(map01, dtype=np.float64)
    if map01.ndim != 2:
        raise ValueError(f'map must be 2-D (H, W), got shape {map01.shape}')
    scaled = (np.clip(map01, 0, 1) * 255).round().astype(np.uint8)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_JET)


def overlay_heatmap(img: np.ndarray,
                    map01: np.ndarray,
                    alpha: float = 0.5) -> np.ndarray:
    """Blend a map's heat map over an image of the same size.

    Args:
        img (numpy.ndarray): ``(H, W, 3)`` uint8 BGR image.
        map01 (numpy.ndarray): ``(H, W)`` map in ``[0, 1]``.
        alpha (float): Weight of the heat map. Defaults to 0.5.

    Returns:
        numpy.ndarray: ``(H, W, 3)`` uint8 BGR image.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if img.shape[:2] != np.shape(map01):
        raise ValueError(f'image {img.shape[:2]} and map {np.shape(map01)} '
                         'differ in size')
    heat = heatmap(map01).astype(np.float64)
    out = (1 - alpha) * img.astype(np.float64) + alpha * heat
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def attention_views(img: np.ndarray,
                    maps: Dict[str, np.ndarray],
                    alpha: float = 0.5) -> List[np.ndarray]:
    """The views of one image: the image, then one overlay per method.

    Args:
        img (numpy.ndarray): ``(H, W, 3)`` uint8 BGR image.
        maps (dict[str, numpy.ndarray]): Method to its ``(H, W)`` map.
        alpha (float): Weight of the heat maps. Defaults to 0.5.

    Returns:
        list[numpy.ndarray]: ``1 + len(maps)`` BGR images.
    """
    return [img] + [overlay_heatmap(img, m, alpha) for m in maps.values()]


def attention_titles(methods: Sequence[str]) -> List[str]:
    """Column titles of an attention panel.

    Args:
        methods (Sequence[str]): The methods, in column order.

    Returns:
        list[str]: ``'image'`` then one title per method.
    """
    return ['image'] + [METHOD_TITLES.get(m, m) for m in methods]
