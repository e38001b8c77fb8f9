import numpy as np
import pytest
import torch

from mmpha.visualization import (PanelLayout, draw_frequency_panel,
                                 draw_patch_overlay, energy_to_heatmap,
                                 frequency_views, patch_mask,
                                 plot_layer_curves, tensor_to_bgr)


def test_patch_mask_overlapping_grid():
    # 28x16 image, patch 16, stride 12 -> 2x1 grid; patch 1 starts at row 12.
    mask = patch_mask([1], (28, 16),
                      grid=(2, 1),
                      patch_size=(16, 16),
                      stride=(12, 12))
    assert mask[12:28].all() and not mask[:12].any()
    both = patch_mask([0, 1], (28, 16), (2, 1), (16, 16), (12, 12))
    assert both.all()
    with pytest.raises(ValueError, match='patch index 2 is outside the 2x1'):
        patch_mask([2], (28, 16), (2, 1), (16, 16), (12, 12))


def test_patch_overlay_dims_unselected():
    img = np.full((28, 16, 3), 200, dtype=np.uint8)
    out = draw_patch_overlay(img, [0], (2, 1), (16, 16), (12, 12), dim=0.5)
    assert (out[20:] == 100).all()
    assert (out[:16] != 100).any()


def test_tensor_to_bgr_and_heatmap():
    x = torch.zeros(3, 4, 2)
    x[0] = 1.0  # red in RGB
    x[2] = 2.0  # out of range blue: clipped to 255
    bgr = tensor_to_bgr(x)
    assert bgr.shape == (4, 2, 3) and bgr.dtype == np.uint8
    assert tuple(bgr[0, 0]) == (255, 0, 255)
    heat = energy_to_heatmap(np.array([[0., 1.], [0., 0.]]), size=(4, 4))
    assert heat.shape == (4, 4, 3)
    # Highest energy is red in the JET map, lowest dark blue.
    assert heat[0, 3, 2] > 100 and heat[0, 3, 0] < 50
    assert heat[3, 0, 0] > 100 and heat[3, 0, 2] < 50
    with pytest.raises(ValueError, match=r'expected a \(3, H, W\) image'):
        tensor_to_bgr(torch.zeros(4, 4))


def test_frequency_panel_layout():
    x01 = torch.rand(3, 28, 16)
    views = frequency_views(
        x01,
        torch.rand(14, 8),
        torch.tensor([1]),
        x01.clone(), (2, 1), (16, 16), (12, 12),
        with_diff=True)
    assert len(views) == 5 and all(v.shape == (28, 16, 3) for v in views)
    # x_hf == x: the difference view is black.
    assert views[4].max() == 0
    layout = PanelLayout(
        tile_size=(28, 16), title_height=10, spacing=2, margin=3)
    panel = draw_frequency_panel([views[:4]] * 2, layout=layout)
    assert panel.shape[:2] == (2 * 3 + 10 + 2 * 28 + 2, 2 * 3 + 4 * 16 + 3 * 2)
    assert layout.canvas_size(2, 4) == panel.shape[:2]
    with pytest.raises(ValueError, match='every row must hold 4 views'):
        draw_frequency_panel([views])


def test_plot_layer_curves(tmp_path):
    out = tmp_path / 'plot' / 'curves.png'
    plot_layer_curves({'a': [0.1, 0.5, 0.9], 'b': [0.2, 0.2, 0.3]}, str(out))
    import mmcv
    img = mmcv.imread(str(out))
    # (max(4, 0.5 * 3 + 2) x 3.5) inches at 120 dpi.
    assert img.shape[:2] == (420, 480)
    with pytest.raises(ValueError, match='equal-length'):
        plot_layer_curves({'a': [1.0], 'b': [1.0, 2.0]}, str(out))
