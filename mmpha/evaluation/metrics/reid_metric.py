"""``ReIDMetric``: the MMEngine wrapper of the re-ID evaluation protocol.

It collects the features, ids and cameras of the data samples and, once the
results of all ranks are gathered, calls
:func:`mmpha.evaluation.functional.evaluate`, where the protocol (standard
Market-1501: same-id same-camera gallery images deleted, mAP / CMC / mINP)
is written as plain functions.
"""
import logging
from numbers import Integral
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmpha.registry import METRICS
from mmpha.utils import DistMetric, check_dist_metric, check_positive_int
from ..functional import check_rerank_args, evaluate, evaluate_rank
from ..functional.extra_metrics import PER_CAMERA, evaluate_extras
from ..functional.query_expansion import average_query_expansion
from ..functional.roc import DEFAULT_FPRS, check_fprs
from ._large_scale_mode import (check_large_scale_args, evaluate_large,
                                resolve_mode)
from ._samples import check_feature_widths, read_sample

_METRIC_NAMES = ('mAP', 'CMC', 'mINP')


@METRICS.register_module()
class ReIDMetric(BaseMetric):
    """mAP, CMC and mINP of person re-identification (standard protocol).

    One test loop runs the model over the query split followed by the
    gallery split (a ``ConcatDataset`` of both, ``DefaultSampler`` with
    ``shuffle=False``); every sample carries ``is_query``, which is how the
    metric tells the two apart. :meth:`process` keeps, per sample, the
    feature (on the CPU), the person id, the camera id and ``is_query``.
    MMEngine's :meth:`~mmengine.evaluator.BaseMetric.evaluate` gathers the
    results of all ranks in dataset order and drops the samples that
    ``DefaultSampler`` repeats to pad the last round, so
    :meth:`compute_metrics` sees every image exactly once.

    :meth:`compute_metrics` stacks them and calls
    :func:`mmpha.evaluation.functional.evaluate`, which optionally
    L2-normalises the features, computes query-to-gallery distances one
    chunk of ``chunk_size`` queries at a time (never the whole matrix),
    optionally applies k-reciprocal re-ranking
    (:func:`~mmpha.evaluation.functional.iter_re_ranking`), and ranks each
    chunk under the standard protocol (see :meth:`calculate`). Queries
    without a valid gallery match are skipped and counted in the log; if
    none is valid, a ``ValueError`` is raised.

    Reported values are percentages (0-100), like mmpretrain's metrics:
    ``mAP``, ``mINP`` and ``R{k}`` for every k in ``ranks`` (the CMC at rank
    k). :meth:`calculate` itself returns fractions in [0, 1].

    Args:
        metric (str | Sequence[str]): Any of ``'mAP'``, ``'CMC'``,
            ``'mINP'``. Defaults to ``('mAP', 'CMC', 'mINP')``.
        ranks (Sequence[int]): Ranks at which the CMC is reported, each in
            ``[1, max_rank]``. Defaults to ``(1, 5, 10, 20)``.
        dist_metric (str): ``'euclidean'`` (Euclidean distance) or
            ``'cosine'`` (one minus cosine similarity). Defaults to
            ``'euclidean'``.
        norm_feat (bool): L2-normalise the features first. Defaults to True.
        rerank (bool): Apply k-reciprocal re-ranking. Defaults to False.
        k1 (int): Re-ranking neighbourhood size. Defaults to 20.
        k2 (int): Re-ranking query-expansion size. Defaults to 6.
        lambda_value (float): Re-ranking weight of the original distance,
            in [0, 1]. Defaults to 0.3.
        chunk_size (int): Queries handled at once; peak memory grows
            linearly with it. Defaults to 256.
        max_rank (int): Length of the CMC curve computed. Defaults to 50.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names, e.g. ``'val'``
            gives ``'val/mAP'``. Defaults to None (no prefix).
        aqe (bool): Average query expansion of query and gallery features
            before ranking
            (:func:`~mmpha.evaluation.functional.average_query_expansion`).
            Defaults to False.
        aqe_k (int): AQE neighbours, itself included. Defaults to 5
            (fast-reid's default).
        aqe_alpha (float): AQE similarity-weight power. Defaults to 3.0
            (fast-reid's default).
        roc (bool): Also report ``TPR@FPR={f:.0e}`` (percent) for every
            ``f`` in ``roc_fprs``, over the query-gallery pairs
            (:mod:`mmpha.evaluation.functional.roc`). Defaults to False.
        roc_fprs (Sequence[float]): FPR targets. Defaults to
            ``(1e-4, 1e-3, 1e-2)``.
        per_camera (str, optional): ``'query'`` adds ``mAP_cam{c}`` and
            ``R{k}_cam{c}`` per query camera ``c``; ``'pair'`` adds
            ``mAP_cam{a}-{b}`` and ``R{k}_cam{a}-{b}`` per query camera
            ``a`` and gallery camera ``b != a`` (see
            :mod:`mmpha.evaluation.functional.extra_metrics`). Defaults to
            None.
        mode (str): How the gallery is ranked. ``'full'``: one chunk of
            queries against the whole gallery (:func:`evaluate`);
            ``'exact_chunked'``: query chunks x gallery chunks, the same
            numbers in bounded memory
            (:func:`~mmpha.evaluation.functional.evaluate_chunked`);
            ``'approximate'``: faiss top-``approx_topk`` lists (optional
            dependency), reported as ``approx_mAP`` / ``approx_R{k}``, no
            mINP; ``'auto'``: ``'exact_chunked'`` when the gallery exceeds
            ``chunked_above`` images and re-ranking is off, else
            ``'full'``. Defaults to ``'auto'``.
        chunked_above (int): Gallery size above which ``'auto'`` chunks
            the gallery. Defaults to 200000.
        gallery_chunk_size (int, optional): Gallery images per chunk in
            ``'exact_chunked'``. Defaults to None (2**24 distances per
            block).
        approx_topk (int): List length of ``'approximate'``. Defaults to
            100.
        approx_index (str): faiss index factory string of
            ``'approximate'``. Defaults to ``'Flat'``.
        rerank_max_memory (float, optional): Re-ranking refuses to start
            (``MemoryError``) when its estimated memory exceeds this many
            GiB; None disables the check. Defaults to 8.

    Examples:
        In a config (one dataloader over query then gallery):

        >>> val_evaluator = dict(type='ReIDMetric', metric=('mAP', 'CMC'),
        ...                      ranks=(1, 5, 10), rerank=False)

        Without an Evaluator: one query (id 1, camera 0); the gallery holds
        id 1 under camera 1, id 2, and id 1 under camera 0 (removed).

        >>> import numpy as np
        >>> from mmpha.evaluation import ReIDMetric
        >>> out = ReIDMetric.calculate(
        ...     np.array([[0.3, 0.1, 0.2]]), q_pids=[1], g_pids=[1, 2, 1],
        ...     q_camids=[0], g_camids=[1, 1, 0], max_rank=3)
        >>> out['mAP'], out['mINP'], out['CMC'].tolist()
        (0.5, 0.5, [0.0, 1.0, 1.0])
    """

    # An empty prefix keeps the keys bare ('mAP', 'R1', ...) without
    # MMEngine's warning about a missing prefix.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 metric: Union[str, Sequence[str]] = _METRIC_NAMES,
                 ranks: Sequence[int] = (1, 5, 10, 20),
                 dist_metric: DistMetric = 'euclidean',
                 norm_feat: bool = True,
                 rerank: bool = False,
                 k1: int = 20,
                 k2: int = 6,
                 lambda_value: float = 0.3,
                 chunk_size: int = 256,
                 max_rank: int = 50,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 aqe: bool = False,
                 aqe_k: int = 5,
                 aqe_alpha: float = 3.0,
                 roc: bool = False,
                 roc_fprs: Sequence[float] = DEFAULT_FPRS,
                 per_camera: Optional[str] = None,
                 mode: str = 'auto',
                 chunked_above: int = 200_000,
                 gallery_chunk_size: Optional[int] = None,
                 approx_topk: int = 100,
                 approx_index: str = 'Flat',
                 rerank_max_memory: Optional[float] = 8.0) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.large_scale = check_large_scale_args(mode, rerank, chunked_above,
                                                  gallery_chunk_size,
                                                  approx_topk, approx_index,
                                                  rerank_max_memory)
        self.aqe = bool(aqe)
        self.aqe_k = check_positive_int(aqe_k, 'aqe_k')
        self.aqe_alpha = float(aqe_alpha)
        self.roc = bool(roc)
        self.roc_fprs = check_fprs(roc_fprs)
        if per_camera is not None and per_camera not in PER_CAMERA:
            raise ValueError(f'per_camera must be None or one of '
                             f'{PER_CAMERA}, got {per_camera!r}.')
        self.per_camera = per_camera
        metrics = (metric, ) if isinstance(metric, str) else tuple(metric)
        if len(metrics) == 0:
            raise ValueError(
                f'metric must name at least one of {_METRIC_NAMES}.')
        for name in metrics:
            if name not in _METRIC_NAMES:
                raise ValueError(f'Unknown metric {name!r}; expected any of '
                                 f'{_METRIC_NAMES}.')
        self.metrics = metrics
        self.max_rank = check_positive_int(max_rank, 'max_rank')
        ranks = (ranks, ) if isinstance(ranks, Integral) else tuple(ranks)
        for k in ranks:
            if (isinstance(k, bool) or not isinstance(k, Integral)
                    or not 1 <= k <= self.max_rank):
                raise ValueError(f'Every rank must be an int in [1, '
                                 f'max_rank={self.max_rank}], got {k!r}.')
        self.ranks = tuple(int(k) for k in ranks)
        self.dist_metric = check_dist_metric(dist_metric, 'dist_metric')
        self.norm_feat = bool(norm_feat)
        self.rerank = bool(rerank)
        check_rerank_args(k1, k2, lambda_value)
        self.k1 = int(k1)
        self.k2 = int(k2)
        self.lambda_value = float(lambda_value)
        self.chunk_size = check_positive_int(chunk_size, 'chunk_size')

    def process(self, data_batch: object,
                data_samples: Sequence[Union[dict, BaseDataElement]]) -> None:
        """Keep the feature, ids and split flag of every sample.

        Args:
            data_batch (object): The batch from the dataloader (unused).
            data_samples (Sequence[dict | BaseDataElement]): Outputs of the
                model, as dicts (``ReIDDataSample.to_dict()``) with
                ``pred_feature`` (``(D, )`` tensor, D the feature width),
                ``gt_label`` (``(1, )`` tensor or int), ``cam_id`` (int) and
                ``is_query`` (bool).
        """
        for sample in data_samples:
            sample, feature = read_sample(sample, ('pred_feature', 'gt_label',
                                                   'cam_id', 'is_query'),
                                          'ReIDMetric')
            self.results.append(
                dict(
                    feature=feature,
                    pid=_scalar_int(sample['gt_label'], 'gt_label'),
                    camid=_scalar_int(sample['cam_id'], 'cam_id'),
                    is_query=bool(sample['is_query'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the metrics from the gathered results of all ranks.

        Args:
            results (list[dict]): One dict per image (see :meth:`process`),
                query and gallery images in any order.

        Returns:
            dict[str, float]: ``mAP``, ``mINP`` and ``R{k}`` in percent,
            as selected by ``metric``.

        Raises:
            ValueError: If there are no query or no gallery images, the
                feature widths differ, or no query has a valid match.
        """
        num_query = sum(1 for r in results if r['is_query'])
        num_gallery = len(results) - num_query
        if num_query == 0 or num_gallery == 0:
            raise ValueError(
                f'ReIDMetric needs query and gallery images, got {num_query} '
                f'queries and {num_gallery} gallery images. Set is_query on '
                'the samples (True for the query split).')
        check_feature_widths(results)
        # Queries first, each split in dataset order (the gallery order
        # breaks distance ties), stacked once: no further copies.
        ordered = ([r for r in results if r['is_query']] +
                   [r for r in results if not r['is_query']])
        feats = torch.stack([r['feature'] for r in ordered]).float()
        pids = torch.tensor([r['pid'] for r in ordered], dtype=torch.long)
        camids = torch.tensor([r['camid'] for r in ordered], dtype=torch.long)
        del ordered
        normalized = self.norm_feat or self.dist_metric == 'cosine'
        if normalized:
            # In place: no second copy of all the features.
            F.normalize(feats, dim=1, out=feats)
        if self.aqe:
            feats = torch.cat(
                average_query_expansion(feats[:num_query], feats[num_query:],
                                        self.aqe_k, self.aqe_alpha,
                                        self.chunk_size))
            normalized = True
        mode = resolve_mode(self.large_scale, num_gallery)
        if mode != 'full':
            metrics = evaluate_large(self, mode, feats[:num_query],
                                     feats[num_query:], pids[:num_query],
                                     pids[num_query:], camids[:num_query],
                                     camids[num_query:])
            if self.roc or self.per_camera:
                metrics.update(
                    self._extra_metrics(feats, pids, camids, num_query,
                                        normalized))
            return metrics
        values = evaluate(
            feats[:num_query],
            feats[num_query:],
            pids[:num_query],
            pids[num_query:],
            camids[:num_query],
            camids[num_query:],
            rerank_max_memory=self.large_scale['rerank_max_memory'],
            **self._protocol_options(normalized))
        num_skipped = values['num_queries'] - values['num_valid_queries']
        print_log(
            f'ReIDMetric: {num_query} queries, {num_gallery} gallery images'
            f'{" (re-ranked)" if self.rerank else ""}; {num_skipped} '
            'queries have no valid gallery match (same id, other camera) '
            'and are skipped.',
            logger='current',
            level=logging.WARNING if num_skipped else logging.INFO)

        metrics: Dict[str, float] = {}
        if 'mAP' in self.metrics:
            metrics['mAP'] = float(values['mAP']) * 100
        if 'mINP' in self.metrics:
            metrics['mINP'] = float(values['mINP']) * 100
        if 'CMC' in self.metrics:
            for k in self.ranks:
                metrics[f'R{k}'] = float(values['CMC'][k - 1]) * 100
        if self.roc or self.per_camera:
            metrics.update(
                self._extra_metrics(feats, pids, camids, num_query,
                                    normalized))
        return metrics

    def _protocol_options(self, normalized: bool) -> dict:
        """The keyword arguments of :func:`evaluate` (and of
        :func:`evaluate_extras`) set by this metric."""
        names = ('dist_metric', 'norm_feat', 'rerank', 'k1', 'k2',
                 'lambda_value', 'chunk_size', 'max_rank')
        options = {name: getattr(self, name) for name in names}
        options['normalized'] = normalized
        return options

    def _extra_metrics(self, feats: Tensor, pids: Tensor, camids: Tensor,
                       num_query: int, normalized: bool) -> Dict[str, float]:
        """The ROC and per-camera values, in percent."""
        q, g = slice(0, num_query), slice(num_query, None)
        extras = evaluate_extras(
            feats[q],
            feats[g],
            pids[q],
            pids[g],
            camids[q],
            camids[g],
            roc_fprs=self.roc_fprs if self.roc else None,
            per_camera=self.per_camera,
            **self._protocol_options(normalized))
        metrics: Dict[str, float] = {}
        for fpr, tpr in extras.get('roc', {}).items():
            metrics[f'TPR@FPR={fpr:.0e}'] = tpr * 100
        for key, summary in extras.get('per_camera', {}).items():
            tag = (f'cam{key[0]}-{key[1]}'
                   if isinstance(key, tuple) else f'cam{key}')
            if 'mAP' in self.metrics:
                metrics[f'mAP_{tag}'] = float(summary['mAP']) * 100
            if 'CMC' in self.metrics:
                for k in self.ranks:
                    metrics[f'R{k}_{tag}'] = float(summary['CMC'][k - 1]) * 100
        return metrics

    #: ``ReIDMetric.calculate(distmat, q_pids, g_pids, q_camids, g_camids,
    #: max_rank=50)``: mAP, CMC and mINP of a distance matrix without an
    #: Evaluator; it is :func:`mmpha.evaluation.functional.evaluate_rank`.
    calculate = staticmethod(evaluate_rank)


def _scalar_int(value: object, name: str) -> int:
    """Read one integer from an int, a one-element tensor or array."""
    if isinstance(value, (Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, Tensor) else value.size
        if size != 1:
            raise ValueError(f'{name} must hold exactly one value, got '
                             f'shape {tuple(value.shape)}.')
        value = value.reshape(-1)[0].item()
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{name} must be an integer, got {value!r}.')
    return int(value)
