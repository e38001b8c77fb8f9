"""``VehicleIDMetric``: the VehicleID protocol as an MMEngine metric.

The test dataloader runs the model over the whole test list (one pool:
:class:`~mmpha.datasets.VehicleID` with ``split='test'``); the metric
keeps the feature and id of every image and calls
:func:`mmpha.evaluation.functional.evaluate_vehicleid`, which draws the
gallery of each trial (one random image per id, the rest queries, no
camera filtering) and averages over the trials.
"""
from numbers import Integral
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmpha.registry import METRICS
from mmpha.utils import (DistMetric, check_dist_metric, check_int,
                         check_positive_int)
from ..functional.vehicleid_protocol import evaluate_vehicleid
from ._samples import check_feature_widths, read_sample
from .reid_metric import _scalar_int


@METRICS.register_module()
class VehicleIDMetric(BaseMetric):
    """mAP and CMC of VehicleID: mean and standard deviation over trials.

    Reported values are percentages (0-100): ``mAP``, ``R{k}`` for every k
    in ``ranks`` (and ``mINP`` if asked), each the mean over ``trials``
    random query / gallery splits, and ``mAP_std``, ``R{k}_std``
    (``mINP_std``), their population standard deviation over the trials.
    Trial t uses the seed ``seed + t``
    (:func:`~mmpha.evaluation.functional.vehicleid_split`), so the numbers
    depend only on the features, the ids and ``seed``. The per-trial
    values are logged.

    Args:
        trials (int): Random splits. Defaults to 10.
        seed (int): Seed of the first trial, ``>= 0``. Defaults to 0.
        ranks (Sequence[int]): Ranks of the reported CMC, each in
            ``[1, max_rank]``. Defaults to ``(1, 5)``.
        with_minp (bool): Also report mINP. Defaults to False.
        dist_metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        norm_feat (bool): L2-normalise the features first. Defaults to True.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        chunk_size (int): Queries ranked at once. Defaults to 256.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to
            None (no prefix).

    Examples:
        >>> val_evaluator = dict(type='VehicleIDMetric', trials=10, seed=0)
    """

    default_prefix: Optional[str] = ''

    def __init__(self,
                 trials: int = 10,
                 seed: int = 0,
                 ranks: Sequence[int] = (1, 5),
                 with_minp: bool = False,
                 dist_metric: DistMetric = 'euclidean',
                 norm_feat: bool = True,
                 max_rank: int = 50,
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.trials = check_positive_int(trials, 'trials')
        self.seed = check_int(seed, 'seed', 0)
        self.max_rank = check_positive_int(max_rank, 'max_rank')
        ranks = (ranks, ) if isinstance(ranks, Integral) else tuple(ranks)
        if not ranks or any(
                isinstance(k, bool) or not isinstance(k, Integral)
                or not 1 <= k <= self.max_rank for k in ranks):
            raise ValueError(f'ranks must be ints in [1, max_rank='
                             f'{self.max_rank}], got {ranks!r}.')
        self.ranks = tuple(int(k) for k in ranks)
        self.with_minp = bool(with_minp)
        self.dist_metric = check_dist_metric(dist_metric, 'dist_metric')
        self.norm_feat = bool(norm_feat)
        self.chunk_size = check_positive_int(chunk_size, 'chunk_size')

    def process(self, data_batch: object,
                data_samples: Sequence[Union[dict, BaseDataElement]]) -> None:
        """Keep the feature and id of every sample.

        Args:
            data_batch (object): Unused.
            data_samples (Sequence[dict | BaseDataElement]): Outputs of the
                model with ``pred_feature`` (``(D, )`` tensor) and
                ``gt_label``.
        """
        for sample in data_samples:
            sample, feature = read_sample(sample, ('pred_feature', 'gt_label'),
                                          'VehicleIDMetric')
            self.results.append(
                dict(
                    feature=feature,
                    pid=_scalar_int(sample['gt_label'], 'gt_label')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Run the trials on the gathered results of all ranks.

        Args:
            results (list[dict]): One dict per test image (see
                :meth:`process`).

        Returns:
            dict[str, float]: ``mAP``, ``R{k}`` (and ``mINP``) and their
            ``_std`` in percent.
        """
        check_feature_widths(results)
        feats = torch.stack([r['feature'] for r in results])
        pids = torch.tensor([r['pid'] for r in results], dtype=torch.long)
        if self.norm_feat or self.dist_metric == 'cosine':
            F.normalize(feats, dim=1, out=feats)
        out = evaluate_vehicleid(
            feats,
            pids,
            trials=self.trials,
            seed=self.seed,
            dist_metric=self.dist_metric,
            norm_feat=False,
            max_rank=self.max_rank,
            chunk_size=self.chunk_size)
        per_trial = ', '.join(f'{r["mAP"] * 100:.2f}/{r["CMC"][0] * 100:.2f}'
                              for r in out['trials'])
        print_log(
            f'VehicleIDMetric: {len(results)} test images of '
            f'{out["num_gallery"]} ids, {self.trials} trials (seeds '
            f'{self.seed}..{self.seed + self.trials - 1}) of '
            f'{out["num_queries"]} queries and {out["num_gallery"]} gallery '
            f'images; mAP/R1 per trial: {per_trial}.',
            logger='current')
        metrics: Dict[str, float] = {}
        names = ['mAP'] + (['mINP'] if self.with_minp else [])
        for name in names:
            metrics[name] = float(out[name]) * 100
            metrics[f'{name}_std'] = float(out[f'{name}_std']) * 100
        for k in self.ranks:
            metrics[f'R{k}'] = float(out['CMC'][k - 1]) * 100
            metrics[f'R{k}_std'] = float(out['CMC_std'][k - 1]) * 100
        return metrics
