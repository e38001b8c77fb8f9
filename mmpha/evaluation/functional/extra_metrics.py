"""Evaluation options papers report besides mAP / CMC: the per-camera
breakdown and the verification ROC, computed in one pass over the chunks of
query-gallery distances.

Per-camera breakdown (``per_camera``):

- ``'query'``: mAP / CMC of the queries of each camera ``c`` against the
  whole gallery, under the standard protocol (same-id same-camera gallery
  images removed). The mean over cameras weighted by their number of valid
  queries is the overall value.
- ``'pair'``: for each ordered pair of cameras ``(a, b)``, ``a != b``, the
  queries of camera ``a`` against the gallery images of camera ``b`` only
  (no image is removed: none shares the query's camera). A pair whose
  queries have no positive in camera ``b`` is left out.

Symbols used in the shapes: ``Q`` queries, ``G`` gallery images, ``C``
queries per chunk, ``D`` feature width.
"""
from typing import Dict, Literal, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .fast_ranking import RankAccumulator
from .ranking import (ArrayLike, feed_chunks, iter_distances,
                      prepare_feature_inputs)
from .roc import DEFAULT_FPRS, ROCAccumulator, check_fprs

PerCamera = Literal['query', 'pair']
PER_CAMERA: Tuple[str, ...] = ('query', 'pair')

__all__ = [
    'PER_CAMERA', 'CameraBreakdown', 'evaluate_extras', 'DEFAULT_FPRS',
    'ROCAccumulator', 'check_fprs'
]
CameraKey = Union[int, Tuple[int, int]]


class CameraBreakdown:
    """mAP / CMC per query camera or per camera pair, over query chunks.

    Args:
        g_pids (Tensor): ``(G, )`` int64 gallery ids.
        g_camids (Tensor): ``(G, )`` int64 gallery cameras.
        mode (str): ``'query'`` or ``'pair'`` (see the module notes).
        max_rank (int): Length of the CMC curves.
    """

    def __init__(self, g_pids: Tensor, g_camids: Tensor, mode: PerCamera,
                 max_rank: int) -> None:
        if mode not in PER_CAMERA:
            raise ValueError(f'per_camera must be None or one of '
                             f'{PER_CAMERA}, got {mode!r}.')
        self.mode = mode
        self.g_pids, self.g_camids = g_pids, g_camids
        self.max_rank = max_rank
        self.gallery_cams = torch.unique(g_camids).tolist()
        self.columns = {
            cam: (g_camids == cam).nonzero().squeeze(1)
            for cam in self.gallery_cams
        }
        self.accs: Dict[CameraKey, RankAccumulator] = {}

    def _acc(self, key: CameraKey) -> RankAccumulator:
        if key not in self.accs:
            if self.mode == 'query':
                g_pids, g_camids = self.g_pids, self.g_camids
            else:
                cols = self.columns[key[1]]
                g_pids, g_camids = self.g_pids[cols], self.g_camids[cols]
            self.accs[key] = RankAccumulator(g_pids, g_camids, self.max_rank)
        return self.accs[key]

    def update(self, dist: Tensor, q_pids: Tensor, q_camids: Tensor) -> None:
        """Add a chunk of query rows (see :meth:`RankAccumulator.update`)."""
        for cam in torch.unique(q_camids).tolist():
            rows = (q_camids == cam).nonzero().squeeze(1)
            sub, pids, cams = dist[rows], q_pids[rows], q_camids[rows]
            if self.mode == 'query':
                self._acc(cam).update(sub, pids, cams)
                continue
            for g_cam in self.gallery_cams:
                if g_cam != cam:
                    self._acc((cam, g_cam)).update(sub[:, self.columns[g_cam]],
                                                   pids, cams)

    def result(self) -> Dict[CameraKey, dict]:
        """The :func:`~mmpha.evaluation.functional.rank_summary` dict of
        every camera (pair) with at least one valid query, in key order."""
        out = {}
        for key in sorted(self.accs):
            acc = self.accs[key]
            if acc.num_valid > 0:
                out[key] = acc.result()
        return out


def evaluate_extras(query_feats: Tensor,
                    gallery_feats: Tensor,
                    q_pids: ArrayLike,
                    g_pids: ArrayLike,
                    q_camids: ArrayLike,
                    g_camids: ArrayLike,
                    roc_fprs: Optional[Sequence[float]] = None,
                    per_camera: Optional[PerCamera] = None,
                    dist_metric: str = 'euclidean',
                    norm_feat: bool = True,
                    rerank: bool = False,
                    k1: int = 20,
                    k2: int = 6,
                    lambda_value: float = 0.3,
                    chunk_size: int = 256,
                    max_rank: int = 50,
                    normalized: bool = False) -> dict:
    """The ROC and the per-camera breakdown from features.

    The distances are those of :func:`~mmpha.evaluation.functional.evaluate`
    with the same arguments (normalisation, metric, re-ranking), computed
    ``chunk_size`` queries at a time.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
        g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
        q_camids (numpy.ndarray | Tensor): ``(Q, )`` query cameras.
        g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery cameras.
        roc_fprs (Sequence[float], optional): FPR targets of the ROC.
            Defaults to None (no ROC).
        per_camera (str, optional): ``'query'`` or ``'pair'``. Defaults to
            None (no breakdown).
        dist_metric (str): As for
            :func:`~mmpha.evaluation.functional.evaluate`, like the
            arguments below. Defaults to ``'euclidean'``.
        norm_feat (bool): Defaults to True.
        rerank (bool): Defaults to False.
        k1 (int): Defaults to 20.
        k2 (int): Defaults to 6.
        lambda_value (float): Defaults to 0.3.
        chunk_size (int): Defaults to 256.
        max_rank (int): Defaults to 50.
        normalized (bool): Defaults to False.

    Returns:
        dict: ``roc`` (``{fpr: tpr}``, fractions) if ``roc_fprs`` is given,
        ``per_camera`` (``{camera or (query camera, gallery camera):
        summary dict}``) if ``per_camera`` is given.
    """
    (query_feats, gallery_feats, q_pids, g_pids, q_camids, g_camids,
     normalized) = prepare_feature_inputs(query_feats, gallery_feats, q_pids,
                                          g_pids, q_camids, g_camids,
                                          dist_metric, norm_feat, normalized)
    accs = {}
    if roc_fprs is not None:
        accs['roc'] = ROCAccumulator(q_pids, g_pids, g_camids, roc_fprs)
    if per_camera is not None:
        accs['per_camera'] = CameraBreakdown(g_pids, g_camids, per_camera,
                                             max_rank)
    if not accs:
        return {}
    feed_chunks(
        accs.values(),
        iter_distances(query_feats, gallery_feats, dist_metric, chunk_size,
                       rerank, k1, k2, lambda_value, normalized), q_pids,
        q_camids)
    return {name: acc.result() for name, acc in accs.items()}
