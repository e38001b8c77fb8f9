"""Visualisation of ranked lists and frequency maps."""
# Registers mmpretrain's visualizers (UniversalVisualizer) in the parent
# registry, which mmpha's child registry does not import by itself.
import mmpretrain.visualization  # noqa: F401

from .attention_visualizer import (METHOD_TITLES, attention_titles,
                                   attention_views, heatmap, overlay_heatmap)
from .curve_visualizer import plot_training_curves
from .embedding_visualizer import CAMERA_MARKERS, plot_embedding
from .frequency_visualizer import (DIFF_TITLE, PANEL_TITLES, PanelLayout,
                                   draw_frequency_panel, draw_patch_overlay,
                                   energy_to_heatmap, frequency_views,
                                   patch_mask, plot_layer_curves,
                                   tensor_to_bgr)
from .rank_visualizer import (RankGridLayout, draw_rank_grid,
                              draw_rank_grid_from_paths, draw_tile, load_image,
                              placeholder, resize_to)

__all__ = [
    'RankGridLayout', 'draw_rank_grid', 'draw_rank_grid_from_paths',
    'draw_tile', 'load_image', 'placeholder', 'resize_to', 'PanelLayout',
    'PANEL_TITLES', 'DIFF_TITLE', 'draw_frequency_panel', 'draw_patch_overlay',
    'energy_to_heatmap', 'frequency_views', 'patch_mask', 'plot_layer_curves',
    'tensor_to_bgr', 'METHOD_TITLES', 'attention_titles', 'attention_views',
    'heatmap', 'overlay_heatmap', 'plot_training_curves', 'CAMERA_MARKERS',
    'plot_embedding'
]
