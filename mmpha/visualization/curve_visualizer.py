"""Training curves of one or several runs, one panel a key."""
import math
import os.path as osp
from typing import Dict, Tuple

import numpy as np
from mmengine.utils import mkdir_or_exist

Curves = Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]]


def plot_training_curves(curves: Curves,
                         out_file: str,
                         xlabel: str = 'iteration',
                         num_cols: int = 3,
                         title: str = '') -> None:
    """Draw every key in its own panel, one line per run.

    Args:
        curves (dict): Key to {run label: ``(x, y)`` arrays}, e.g. from
            :func:`mmpha.apis.log_analysis.curves_of`.
        out_file (str): Output image path (``.png``).
        xlabel (str): X-axis label. Defaults to ``'iteration'``.
        num_cols (int): Panels per row. Defaults to 3.
        title (str): Figure title. Defaults to ``''``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError('curves is empty: nothing to draw')
    num_cols = max(1, min(num_cols, len(curves)))
    num_rows = math.ceil(len(curves) / num_cols)
    fig, axes = plt.subplots(
        num_rows,
        num_cols,
        figsize=(3.6 * num_cols, 2.8 * num_rows),
        squeeze=False)
    # One colour a run in every panel, also where some runs lack the key.
    labels = list(dict.fromkeys(k for runs in curves.values() for k in runs))
    colours = {label: f'C{i % 10}' for i, label in enumerate(labels)}
    for ax, (key, runs) in zip(axes.flat, curves.items()):
        for label, (xs, ys) in runs.items():
            # A metric logged once per evaluation gets markers.
            ax.plot(
                xs,
                ys,
                marker='o' if len(xs) < 30 else None,
                ms=3,
                color=colours[label],
                label=label)
        ax.set_title(key)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if len(labels) > 1:
            ax.legend(fontsize='small')
    for ax in list(axes.flat)[len(curves):]:
        ax.axis('off')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
