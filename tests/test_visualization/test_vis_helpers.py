import cv2
import numpy as np
import pytest

from mmpha.visualization import (CAMERA_MARKERS, attention_titles,
                                 attention_views, heatmap, overlay_heatmap,
                                 plot_embedding, plot_training_curves)


def test_overlay_heatmap_blends_with_jet():
    img = np.full((4, 2, 3), 100, dtype=np.uint8)
    map01 = np.array([[0, 1], [0.5, 0.5], [1, 0], [0.25, 0.75]])
    jet = cv2.applyColorMap((map01 * 255).round().astype(np.uint8),
                            cv2.COLORMAP_JET)
    assert np.array_equal(heatmap(map01), jet)
    assert np.array_equal(overlay_heatmap(img, map01, 0.0), img)
    assert np.array_equal(overlay_heatmap(img, map01, 1.0), jet)
    half = overlay_heatmap(img, map01, 0.5).astype(int)
    assert np.abs(half - (100 + jet.astype(int)) / 2).max() <= 0.5
    views = attention_views(img, {'rollout': map01, 'cls': map01})
    assert len(views) == 3 and views[0] is img
    assert attention_titles(
        ['rollout', 'cls',
         'gradcam']) == ['image', 'rollout', 'CLS attn', 'Grad-CAM']
    with pytest.raises(ValueError, match='differ in size'):
        overlay_heatmap(img, map01[:2])
    with pytest.raises(ValueError, match=r'alpha must be in \[0, 1\]'):
        overlay_heatmap(img, map01, 2.0)


def test_plot_embedding_and_curves(tmp_path):
    out = tmp_path / 'emb.png'
    coords = np.array([[0., 0.], [1., 1.], [2., 0.]])
    plot_embedding(coords, [1, 1, 2], [0, 11, 1],
                   ['query', 'gallery'] * 1 + ['gallery'], str(out))
    assert cv2.imread(str(out)).shape[:2] == (500, 600)
    # Camera 11 wraps around the marker list.
    assert len(CAMERA_MARKERS) == 10
    with pytest.raises(ValueError, match=r'coords must be \(M, 2\)'):
        plot_embedding(coords, [1, 1], [0, 1, 1], ['query'] * 3, str(out))
    curves = {
        'loss': {
            'a': (np.arange(3), np.ones(3)),
            'b': (np.arange(2), np.zeros(2))
        },
        'mAP': {
            'a': (np.array([2]), np.array([5.0]))
        }
    }
    out = tmp_path / 'curves.png'
    plot_training_curves(curves, str(out), num_cols=3)
    # Two panels in one row of 3.6 x 2.8 inches at 100 dpi.
    assert cv2.imread(str(out)).shape[:2] == (280, 720)
    with pytest.raises(ValueError, match='curves is empty'):
        plot_training_curves({}, str(out))
