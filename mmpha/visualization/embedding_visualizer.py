"""Scatter plot of a 2-D feature embedding: colour an identity, marker a
camera, filled for query and hollow for gallery images."""
import os.path as osp
from typing import Sequence

import numpy as np
from mmengine.utils import mkdir_or_exist

#: Marker of camera ``c`` is ``CAMERA_MARKERS[c % len(CAMERA_MARKERS)]``.
CAMERA_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', 'h', '<')


def plot_embedding(coords: np.ndarray,
                   ids: Sequence[int],
                   cams: Sequence[int],
                   splits: Sequence[str],
                   out_file: str,
                   title: str = '') -> None:
    """Draw the embedding of query and gallery images.

    Args:
        coords (numpy.ndarray): ``(M, 2)`` coordinates.
        ids (Sequence[int]): ``M`` identities (the colour).
        cams (Sequence[int]): ``M`` camera ids (the marker).
        splits (Sequence[str]): ``M`` of ``'query'`` (filled marker) /
            ``'gallery'`` (hollow marker).
        out_file (str): Output image path (``.png``).
        title (str): Plot title. Defaults to ``''``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    coords = np.asarray(coords, dtype=float)
    ids, cams = np.asarray(ids), np.asarray(cams)
    splits = np.asarray(splits)
    if coords.ndim != 2 or coords.shape[1] != 2 or not (
            len(coords) == len(ids) == len(cams) == len(splits)):
        raise ValueError(f'coords must be (M, 2) with M ids, cams and '
                         f'splits; got {coords.shape}, {len(ids)}, '
                         f'{len(cams)}, {len(splits)}')
    unique_ids = sorted(set(ids.tolist()))
    cmap = plt.get_cmap('tab20' if len(unique_ids) > 10 else 'tab10')
    colour = {pid: cmap(i % cmap.N) for i, pid in enumerate(unique_ids)}
    fig, ax = plt.subplots(figsize=(6, 5))
    for cam in sorted(set(cams.tolist())):
        marker = CAMERA_MARKERS[cam % len(CAMERA_MARKERS)]
        for split, filled in (('gallery', False), ('query', True)):
            sel = (cams == cam) & (splits == split)
            if not sel.any():
                continue
            colours = [colour[p] for p in ids[sel].tolist()]
            ax.scatter(
                coords[sel, 0],
                coords[sel, 1],
                marker=marker,
                s=40 if filled else 30,
                c=colours if filled else 'none',
                edgecolors='k' if filled else colours,
                linewidths=0.6 if filled else 1.2)
    handles = [
        Line2D([], [],
               ls='',
               marker=CAMERA_MARKERS[c % len(CAMERA_MARKERS)],
               mfc='grey',
               mec='k',
               label=f'cam {c}') for c in sorted(set(cams.tolist()))
    ] + [
        Line2D([], [], ls='', marker='o', mfc='grey', mec='k', label='query'),
        Line2D(
            [], [], ls='', marker='o', mfc='none', mec='grey',
            label='gallery'),
    ]
    ax.legend(handles=handles, fontsize='small', loc='best')
    ax.set_title(title or f'{len(unique_ids)} identities, colour = id')
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
