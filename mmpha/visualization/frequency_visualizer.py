"""Drawing of PHA's frequency analysis and of per-layer similarity curves.

Images are ``HxWx3`` ``uint8`` arrays in BGR order (OpenCV's). Tensors from
the model are RGB in the unit range and are converted with
:func:`tensor_to_bgr`.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.utils import mkdir_or_exist
from torch import Tensor

from .rank_visualizer import put_lines, resize_to

#: Column titles of :func:`draw_frequency_panel`.
PANEL_TITLES = ('image', 'HF energy', 'selected patches', 'x_hf')
DIFF_TITLE = '|x_hf - x| x10'


def tensor_to_bgr(x01: Tensor) -> np.ndarray:
    """An RGB image tensor in the unit range as a BGR ``uint8`` array.

    Args:
        x01 (Tensor): ``(3, H, W)`` RGB image, values in ``[0, 1]`` (values
            outside are clipped for display).

    Returns:
        numpy.ndarray: ``(H, W, 3)`` uint8 BGR image.
    """
    if x01.dim() != 3 or x01.shape[0] != 3:
        raise ValueError(
            f'expected a (3, H, W) image, got shape {tuple(x01.shape)}')
    rgb = (x01.detach().float().clamp(0, 1) * 255).round().byte()
    return np.ascontiguousarray(rgb.permute(1, 2, 0).cpu().numpy()[..., ::-1])


def energy_to_heatmap(energy: np.ndarray,
                      size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Colour-map an energy map (min-max scaled per image).

    Args:
        energy (numpy.ndarray): ``(h, w)`` non-negative map.
        size (tuple[int, int], optional): Output ``(height, width)``;
            nearest-neighbour resizing keeps the map's blocks visible.
            Defaults to None (the map's size).

    Returns:
        numpy.ndarray: ``(height, width, 3)`` uint8 BGR heat map (JET).
    """
    energy = np.asarray(energy, dtype=np.float64)
    if energy.ndim != 2:
        raise ValueError(f'energy must be 2-D (h, w), got {energy.shape}')
    low, high = energy.min(), energy.max()
    scaled = (energy - low) / (high -
                               low) if high > low else np.zeros_like(energy)
    heat = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_JET)
    if size is not None:
        heat = cv2.resize(
            heat, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return heat


def patch_mask(keep_idx: Sequence[int], img_size: Tuple[int, int],
               grid: Tuple[int, int], patch_size: Tuple[int, int],
               stride: Tuple[int, int]) -> np.ndarray:
    """Pixels covered by the kept patches of an unpadded patch grid.

    Args:
        keep_idx (Sequence[int]): Indices of kept patches, raster order over
            the ``Hp x Wp`` grid.
        img_size (tuple[int, int]): Image ``(H, W)``.
        grid (tuple[int, int]): Patch grid ``(Hp, Wp)``.
        patch_size (tuple[int, int]): Patch ``(height, width)``.
        stride (tuple[int, int]): Patch stride ``(sh, sw)``.

    Returns:
        numpy.ndarray: ``(H, W)`` bool mask.
    """
    mask = np.zeros(img_size, dtype=bool)
    num = grid[0] * grid[1]
    for idx in np.asarray(keep_idx, dtype=np.int64).reshape(-1):
        if not 0 <= idx < num:
            raise ValueError(f'patch index {idx} is outside the {grid[0]}x'
                             f'{grid[1]} grid')
        row, col = divmod(int(idx), grid[1])
        top, left = row * stride[0], col * stride[1]
        mask[top:top + patch_size[0], left:left + patch_size[1]] = True
    return mask


def draw_patch_overlay(img: np.ndarray,
                       keep_idx: Sequence[int],
                       grid: Tuple[int, int],
                       patch_size: Tuple[int, int],
                       stride: Tuple[int, int],
                       color: Tuple[int, int, int] = (0, 220, 255),
                       dim: float = 0.35) -> np.ndarray:
    """Highlight the kept patches: tinted, the rest darkened.

    Args:
        img (numpy.ndarray): ``(H, W, 3)`` BGR image at the model's input
            size (patch coordinates are in its pixels).
        keep_idx (Sequence[int]): Kept patch indices (raster order).
        grid (tuple[int, int]): Patch grid ``(Hp, Wp)``.
        patch_size (tuple[int, int]): Patch size.
        stride (tuple[int, int]): Patch stride.
        color (tuple[int, int, int]): BGR tint of kept patches. Defaults to
            yellow.
        dim (float): Brightness kept outside the selection, in ``[0, 1]``.
            Defaults to 0.35.

    Returns:
        numpy.ndarray: ``(H, W, 3)`` uint8 image.
    """
    if not 0 <= dim <= 1:
        raise ValueError(f'dim must be in [0, 1], got {dim}')
    mask = patch_mask(keep_idx, img.shape[:2], grid, patch_size, stride)
    out = img.astype(np.float32)
    tint = np.asarray(color, dtype=np.float32)
    out[mask] = 0.7 * out[mask] + 0.3 * tint
    out[~mask] *= dim
    return out.round().clip(0, 255).astype(np.uint8)


@dataclass
class PanelLayout:
    """Geometry of a frequency panel: one row per image, one column a view.

    Args:
        tile_size (tuple[int, int]): ``(height, width)`` of every view.
        title_height (int): Height of the row of column titles. Defaults to
            16.
        spacing (int): Gap between tiles. Defaults to 4.
        margin (int): Outer margin. Defaults to 6.
    """

    tile_size: Tuple[int, int]
    title_height: int = 16
    spacing: int = 4
    margin: int = 6

    def canvas_size(self, num_rows: int, num_cols: int) -> Tuple[int, int]:
        """``(height, width)`` of a panel of ``num_rows`` x ``num_cols``.

        Args:
            num_rows (int): Number of images.
            num_cols (int): Number of views per image.

        Returns:
            tuple[int, int]: Height and width in pixels.
        """
        h, w = self.tile_size
        height = (2 * self.margin + self.title_height + num_rows * h +
                  max(num_rows - 1, 0) * self.spacing)
        width = (2 * self.margin + num_cols * w +
                 max(num_cols - 1, 0) * self.spacing)
        return height, width


def draw_frequency_panel(rows: Sequence[Sequence[np.ndarray]],
                         titles: Sequence[str] = PANEL_TITLES,
                         layout: Optional[PanelLayout] = None) -> np.ndarray:
    """Arrange views of several images in a titled grid.

    Args:
        rows (Sequence[Sequence[numpy.ndarray]]): One list of BGR views per
            image (e.g. image, heat map, overlay, x_hf), all resized to
            ``layout.tile_size``.
        titles (Sequence[str]): One title per column. Defaults to
            :data:`PANEL_TITLES`.
        layout (PanelLayout, optional): Geometry. Defaults to None (the size
            of the first view).

    Returns:
        numpy.ndarray: ``layout.canvas_size(len(rows), len(titles)) + (3, )``
        uint8 image.
    """
    if not rows:
        raise ValueError('rows is empty: nothing to draw')
    num_cols = len(titles)
    if any(len(row) != num_cols for row in rows):
        raise ValueError(f'every row must hold {num_cols} views (one per '
                         f'title {list(titles)})')
    layout = layout or PanelLayout(tile_size=rows[0][0].shape[:2])
    height, width = layout.canvas_size(len(rows), num_cols)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    th, tw = layout.tile_size
    for c, title in enumerate(titles):
        x = layout.margin + c * (tw + layout.spacing)
        put_lines(
            canvas, [title], (x, layout.margin),
            layout.title_height,
            font_scale=min(0.4, 0.8 * tw / max(1, 11 * len(title))))
    for r, row in enumerate(rows):
        y = layout.margin + layout.title_height + r * (th + layout.spacing)
        for c, view in enumerate(row):
            x = layout.margin + c * (tw + layout.spacing)
            canvas[y:y + th, x:x + tw] = resize_to(view, (th, tw))
    return canvas


def frequency_views(x01: Tensor,
                    energy: Tensor,
                    keep_idx: Tensor,
                    x_hf01: Tensor,
                    grid: Tuple[int, int],
                    patch_size: Tuple[int, int],
                    stride: Tuple[int, int],
                    with_diff: bool = False) -> List[np.ndarray]:
    """The views of one image for :func:`draw_frequency_panel`.

    Args:
        x01 (Tensor): ``(3, H, W)`` RGB image in the unit range.
        energy (Tensor): ``(h, w)`` HF energy map.
        keep_idx (Tensor): ``(K, )`` kept patch indices.
        x_hf01 (Tensor): ``(3, H, W)`` low-frequency-dropped image.
        grid (tuple[int, int]): Patch grid ``(Hp, Wp)``.
        patch_size (tuple[int, int]): Patch size.
        stride (tuple[int, int]): Patch stride.
        with_diff (bool): Add ``|x_hf - x|`` amplified 10 times, which shows
            where and how strongly the low-frequency drop acted. Defaults to
            False.

    Returns:
        list[numpy.ndarray]: ``(H, W, 3)`` BGR views: image, heat map,
        selected patches, x_hf (and the difference).
    """
    img = tensor_to_bgr(x01)
    size = img.shape[:2]
    views = [
        img,
        energy_to_heatmap(energy.detach().cpu().numpy(), size),
        draw_patch_overlay(img,
                           keep_idx.detach().cpu().numpy(), grid, patch_size,
                           stride),
        tensor_to_bgr(x_hf01),
    ]
    if with_diff:
        diff = ((x_hf01.detach().float() - x01.detach().float()).abs() *
                10).clamp(0, 1)
        views.append(tensor_to_bgr(diff))
    return views


def plot_layer_curves(curves: Dict[str, Sequence[float]],
                      out_file: str,
                      title: str = 'HF vs LF patch-group similarity',
                      ylabel: str = 'cosine similarity') -> None:
    """Line plot of one value per transformer layer, one line per model.

    Args:
        curves (dict[str, Sequence[float]]): Label to per-layer values (all
            of the same length L).
        out_file (str): Output image path (``.png``).
        title (str): Plot title. Defaults to
            ``'HF vs LF patch-group similarity'``.
        ylabel (str): Y-axis label. Defaults to ``'cosine similarity'``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    lengths = {len(v) for v in curves.values()}
    if not curves or len(lengths) != 1:
        raise ValueError('curves must be a non-empty dict of equal-length '
                         f'sequences, got lengths {sorted(lengths)}')
    num_layers = lengths.pop()
    layers = np.arange(1, num_layers + 1)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * num_layers + 2), 3.5))
    for label, values in curves.items():
        ax.plot(
            layers,
            np.asarray(values, dtype=float),
            marker='o',
            ms=3,
            label=label)
    ax.set_xlabel('transformer layer')
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xticks(layers)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    fig.savefig(out_file, dpi=120)
    plt.close(fig)
