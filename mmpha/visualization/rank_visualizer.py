"""Drawing of ranked retrieval lists: one row per query, top-k gallery.

Images are ``HxWx3`` ``uint8`` arrays in BGR order (OpenCV's), as read by
:func:`mmcv.imread`.
"""
import logging
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.logging import print_log

Color = Tuple[int, int, int]

#: Border colours (BGR) of a correct match, a wrong match and the query.
MATCH_COLOR: Color = (0, 170, 0)
MISMATCH_COLOR: Color = (0, 0, 220)
QUERY_COLOR: Color = (200, 120, 0)
#: Border colour (BGR) of a gallery image whose identity is unknown.
UNKNOWN_COLOR: Color = (160, 160, 160)
PLACEHOLDER_GREY = 128
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def load_image(path: str,
               size: Tuple[int, int],
               warn: bool = True) -> Tuple[np.ndarray, bool]:
    """Read an image and resize it, or make a grey placeholder.

    Args:
        path (str): Image file.
        size (tuple[int, int]): Output ``(height, width)``.
        warn (bool): Log a warning naming the file when it cannot be read.
            Defaults to True.

    Returns:
        tuple[numpy.ndarray, bool]: The ``(height, width, 3)`` BGR image and
        whether the file was read (False for a placeholder).
    """
    img = None
    if path and osp.isfile(path):
        img = mmcv.imread(path, flag='color')
    if img is None:
        if warn:
            print_log(
                f'image "{path}" is missing or unreadable; drawing a grey '
                'placeholder in its place',
                logger='current',
                level=logging.WARNING)
        return placeholder(size), False
    return resize_to(img, size), True


def placeholder(size: Tuple[int, int]) -> np.ndarray:
    """A grey tile with a diagonal cross, for images that cannot be shown.

    Args:
        size (tuple[int, int]): ``(height, width)``.

    Returns:
        numpy.ndarray: ``(height, width, 3)`` uint8 tile.
    """
    h, w = size
    tile = np.full((h, w, 3), PLACEHOLDER_GREY, dtype=np.uint8)
    cv2.line(tile, (0, 0), (w - 1, h - 1), (90, 90, 90), 1)
    cv2.line(tile, (w - 1, 0), (0, h - 1), (90, 90, 90), 1)
    return tile


def resize_to(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize an image to ``(height, width)``, grey to 3 channels.

    Args:
        img (numpy.ndarray): ``(H, W)`` or ``(H, W, 3)`` uint8 image.
        size (tuple[int, int]): Output ``(height, width)``.

    Returns:
        numpy.ndarray: ``(height, width, 3)`` uint8 image.
    """
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = size
    if img.shape[:2] != (h, w):
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img, dtype=np.uint8)


def put_lines(canvas: np.ndarray,
              lines: Sequence[str],
              origin: Tuple[int, int],
              line_height: int,
              color: Color = (0, 0, 0),
              font_scale: Optional[float] = None) -> None:
    """Write lines of text on a canvas, in place.

    Args:
        canvas (numpy.ndarray): ``(H, W, 3)`` uint8 image to draw on.
        lines (Sequence[str]): Text lines, top to bottom.
        origin (tuple[int, int]): ``(x, y)`` of the top-left corner.
        line_height (int): Pixels per line.
        color (tuple[int, int, int]): BGR colour. Defaults to black.
        font_scale (float, optional): OpenCV font scale. Defaults to None
            (derived from ``line_height``).
    """
    if font_scale is None:
        # OpenCV's simplex font is about 22 px tall at scale 1 (caps and
        # descenders); keep a little space between lines.
        font_scale = 0.8 * line_height / 22.0
    x, y = origin
    for i, line in enumerate(lines):
        baseline = y + (i + 1) * line_height - max(2, line_height // 5)
        cv2.putText(canvas, line, (x, baseline), _FONT, font_scale, color, 1,
                    cv2.LINE_AA)


@dataclass
class RankGridLayout:
    """Geometry of a ranked-list grid.

    Each tile is the image (``cell_size``) inside a coloured border of
    ``border`` pixels, above a text strip of ``text_lines`` lines of
    ``line_height`` pixels. Tiles are ``spacing`` pixels apart, the query
    column is followed by an extra ``separator`` gap, and the grid has a
    ``margin`` on every side.

    Args:
        cell_size (tuple[int, int]): Image ``(height, width)`` in a tile.
            Defaults to ``(128, 64)``.
        border (int): Border width in pixels. Defaults to 4.
        text_lines (int): Lines of text under each tile. Defaults to 2.
        line_height (int): Pixels per text line. Defaults to 12.
        spacing (int): Gap between tiles. Defaults to 4.
        separator (int): Extra gap after the query column. Defaults to 12.
        margin (int): Outer margin. Defaults to 6.
    """

    cell_size: Tuple[int, int] = (128, 64)
    border: int = 4
    text_lines: int = 2
    line_height: int = 12
    spacing: int = 4
    separator: int = 12
    margin: int = 6

    def __post_init__(self) -> None:
        if len(self.cell_size) != 2 or min(self.cell_size) < 1:
            raise ValueError('cell_size must be (height, width) with '
                             f'positive values, got {self.cell_size}')
        for name in ('border', 'text_lines', 'line_height', 'spacing',
                     'separator', 'margin'):
            if getattr(self, name) < 0:
                raise ValueError(
                    f'{name} must be >= 0, got {getattr(self, name)}')

    @property
    def tile_size(self) -> Tuple[int, int]:
        """``(height, width)`` of one tile, border and text included."""
        h, w = self.cell_size
        return (h + 2 * self.border + self.text_lines * self.line_height,
                w + 2 * self.border)

    def canvas_size(self, num_rows: int, topk: int) -> Tuple[int, int]:
        """``(height, width)`` of a grid of ``num_rows`` queries.

        Args:
            num_rows (int): Number of queries (rows).
            topk (int): Gallery images per row.

        Returns:
            tuple[int, int]: Height and width of the image in pixels.
        """
        th, tw = self.tile_size
        cols = topk + 1
        width = (2 * self.margin + cols * tw + (cols - 1) * self.spacing +
                 self.separator)
        height = (2 * self.margin + num_rows * th +
                  max(num_rows - 1, 0) * self.spacing)
        return height, width


def draw_tile(img: np.ndarray, color: Color, lines: Sequence[str],
              layout: RankGridLayout) -> np.ndarray:
    """One tile: the image in a coloured border above its caption.

    Args:
        img (numpy.ndarray): BGR image; resized to ``layout.cell_size``.
        color (tuple[int, int, int]): BGR border colour.
        lines (Sequence[str]): Caption lines (at most ``layout.text_lines``
            are drawn).
        layout (RankGridLayout): The grid geometry.

    Returns:
        numpy.ndarray: ``layout.tile_size + (3, )`` uint8 tile.
    """
    th, tw = layout.tile_size
    h, w = layout.cell_size
    b = layout.border
    tile = np.full((th, tw, 3), 255, dtype=np.uint8)
    tile[:h + 2 * b, :, :] = color
    tile[b:b + h, b:b + w] = resize_to(img, (h, w))
    put_lines(tile,
              list(lines)[:layout.text_lines], (1, h + 2 * b),
              layout.line_height)
    return tile


def draw_rank_grid(query_imgs: Sequence[np.ndarray],
                   gallery_imgs: Sequence[Sequence[np.ndarray]],
                   dists: np.ndarray,
                   matches: Optional[np.ndarray],
                   query_captions: Optional[Sequence[Sequence[str]]] = None,
                   gallery_captions: Optional[Sequence[Sequence[
                       Sequence[str]]]] = None,
                   layout: Optional[RankGridLayout] = None) -> np.ndarray:
    """Draw the ranked lists of several queries as one image.

    Row ``r`` shows query ``r`` (blue border) followed by its ``k`` nearest
    gallery images, nearest first, with a green border for the same
    identity and a red one otherwise; under each gallery image its rank and
    distance (and any extra caption).

    Args:
        query_imgs (Sequence[numpy.ndarray]): ``R`` BGR query images.
        gallery_imgs (Sequence[Sequence[numpy.ndarray]]): ``R`` lists of
            ``k`` BGR gallery images.
        dists (numpy.ndarray): ``(R, k)`` distances.
        matches (numpy.ndarray, optional): ``(R, k)`` bools, True for the
            same identity as the query; None when identities are unknown
            (grey borders).
        query_captions (Sequence[Sequence[str]], optional): Caption lines of
            each query. Defaults to None (``'query'``).
        gallery_captions (Sequence[Sequence[Sequence[str]]], optional):
            Extra caption lines of each gallery image, drawn after the rank
            and distance. Defaults to None.
        layout (RankGridLayout, optional): Geometry. Defaults to None
            (:class:`RankGridLayout` defaults).

    Returns:
        numpy.ndarray: The grid, ``layout.canvas_size(R, k) + (3, )`` uint8.
    """
    layout = layout or RankGridLayout()
    dists = np.asarray(dists, dtype=np.float64)
    num_rows = len(query_imgs)
    if dists.ndim != 2 or dists.shape[0] != num_rows:
        raise ValueError(f'dists must have shape (R={num_rows}, k), got '
                         f'{dists.shape}')
    topk = dists.shape[1]
    if matches is not None:
        matches = np.asarray(matches, dtype=bool)
    if matches is not None and matches.shape != dists.shape:
        raise ValueError(f'matches must have the shape of dists {dists.shape}'
                         f', got {matches.shape}')
    if len(gallery_imgs) != num_rows or any(
            len(row) != topk for row in gallery_imgs):
        raise ValueError(f'gallery_imgs must hold {num_rows} rows of {topk} '
                         'images')
    height, width = layout.canvas_size(num_rows, topk)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    th, tw = layout.tile_size
    for r in range(num_rows):
        y = layout.margin + r * (th + layout.spacing)
        caption = query_captions[r] if query_captions else ['query']
        x = layout.margin
        canvas[y:y + th, x:x + tw] = draw_tile(query_imgs[r], QUERY_COLOR,
                                               caption, layout)
        for j in range(topk):
            x = (
                layout.margin + (j + 1) * (tw + layout.spacing) +
                layout.separator)
            lines = [f'#{j + 1} d={dists[r, j]:.3f}']
            if gallery_captions:
                lines += list(gallery_captions[r][j])
            if matches is None:
                color = UNKNOWN_COLOR
            else:
                color = MATCH_COLOR if matches[r, j] else MISMATCH_COLOR
            canvas[y:y + th, x:x + tw] = draw_tile(gallery_imgs[r][j], color,
                                                   lines, layout)
    return canvas


def draw_rank_grid_from_paths(
        query_paths: Sequence[str],
        gallery_paths: Sequence[Sequence[str]],
        dists: np.ndarray,
        matches: Optional[np.ndarray],
        query_captions: Optional[Sequence[Sequence[str]]] = None,
        gallery_captions: Optional[Sequence[Sequence[Sequence[str]]]] = None,
        layout: Optional[RankGridLayout] = None
) -> Tuple[np.ndarray, List[str]]:
    """:func:`draw_rank_grid` reading the images from files.

    A file that is missing or unreadable is drawn as a grey placeholder and
    a warning names it (once per file).

    Args:
        query_paths (Sequence[str]): ``R`` query image files.
        gallery_paths (Sequence[Sequence[str]]): ``R`` lists of ``k`` files.
        dists (numpy.ndarray): ``(R, k)`` distances.
        matches (numpy.ndarray, optional): ``(R, k)`` same-identity flags,
            or None when unknown.
        query_captions (Sequence[Sequence[str]], optional): See
            :func:`draw_rank_grid`. Defaults to None.
        gallery_captions (Sequence[Sequence[Sequence[str]]], optional): See
            :func:`draw_rank_grid`. Defaults to None.
        layout (RankGridLayout, optional): Geometry. Defaults to None.

    Returns:
        tuple[numpy.ndarray, list[str]]: The grid and the files that could
        not be read.
    """
    layout = layout or RankGridLayout()
    cache: dict = {}
    missing: List[str] = []

    def read(path: str) -> np.ndarray:
        if path not in cache:
            img, ok = load_image(path, layout.cell_size)
            if not ok:
                missing.append(path)
            cache[path] = img
        return cache[path]

    grid = draw_rank_grid([read(p) for p in query_paths],
                          [[read(p) for p in row]
                           for row in gallery_paths], dists, matches,
                          query_captions, gallery_captions, layout)
    return grid, missing
