import numpy as np
import pytest

from mmpha.visualization import (RankGridLayout, draw_rank_grid,
                                 draw_rank_grid_from_paths, load_image)
from mmpha.visualization.rank_visualizer import (MATCH_COLOR, MISMATCH_COLOR,
                                                 PLACEHOLDER_GREY)


def _solid(value, size=(20, 10)):
    return np.full((*size, 3), value, dtype=np.uint8)


def test_rank_grid_size_and_border_colours():
    layout = RankGridLayout(
        cell_size=(24, 12),
        border=3,
        text_lines=2,
        line_height=10,
        spacing=2,
        separator=5,
        margin=4)
    rows, k = 2, 3
    grid = draw_rank_grid(
        [_solid(50)] * rows, [[_solid(200)] * k] * rows,
        dists=np.zeros((rows, k)),
        matches=np.array([[True, False, True], [False, False, True]]),
        layout=layout)
    tile_h, tile_w = 24 + 2 * 3 + 2 * 10, 12 + 2 * 3
    expected = (2 * 4 + rows * tile_h + (rows - 1) * 2,
                2 * 4 + (k + 1) * tile_w + k * 2 + 5)
    assert grid.shape == (*expected, 3)
    assert layout.canvas_size(rows, k) == expected

    def border_pixel(r, j):
        y = 4 + r * (tile_h + 2)
        x = 4 + (j + 1) * (tile_w + 2) + 5
        return tuple(grid[y + 1, x + 1])

    assert border_pixel(0, 0) == MATCH_COLOR
    assert border_pixel(0, 1) == MISMATCH_COLOR
    assert border_pixel(1, 2) == MATCH_COLOR
    # The image itself sits inside the border.
    y, x = 4 + 3, 4 + tile_w + 2 + 5 + 3
    assert tuple(grid[y + 5, x + 5]) == (200, 200, 200)


def test_rank_grid_shape_errors():
    with pytest.raises(ValueError, match='matches must have the shape'):
        draw_rank_grid([_solid(0)], [[_solid(0)]], np.zeros((1, 1)),
                       np.zeros((1, 2), dtype=bool))
    with pytest.raises(ValueError, match='cell_size must be'):
        RankGridLayout(cell_size=(0, 4))


def test_missing_file_gives_placeholder(tmp_path):
    img, ok = load_image(str(tmp_path / 'nope.jpg'), (16, 8))
    assert not ok
    assert img.shape == (16, 8, 3)
    assert img[0, 4, 0] == PLACEHOLDER_GREY
    grid, missing = draw_rank_grid_from_paths([str(tmp_path / 'q.jpg')],
                                              [[str(tmp_path / 'g.jpg')]],
                                              np.ones((1, 1)),
                                              np.ones((1, 1), dtype=bool))
    assert missing == [str(tmp_path / 'q.jpg'), str(tmp_path / 'g.jpg')]
    assert grid.shape[:2] == RankGridLayout().canvas_size(1, 1)
