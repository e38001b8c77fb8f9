"""Ranking metrics of person re-identification: mAP, CMC and mINP.

The protocol is the standard (Market-1501) one: for every query, the gallery
images that show the same person *under the same camera* are removed before
ranking, because finding them is trivial; queries left without any positive
are skipped. mINP follows Ye et al., "Deep Learning for Person
Re-identification: A Survey and Outlook" (TPAMI 2021).
"""
import logging
from numbers import Integral
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmpha.registry import METRICS
from .rerank import (DistMetric, check_rerank_args, iter_re_ranking,
                     pairwise_distance, segment_indices)

ArrayLike = Union[np.ndarray, Tensor, Sequence]

# Bound on the number of ``(query, gallery)`` elements ``calculate`` handles
# at once when it chunks a given distance matrix over queries. Each element
# costs about 20 bytes of temporaries, so a chunk stays under ~350 MB.
_CHUNK_ELEMENTS = 1 << 24

_METRIC_NAMES = ('mAP', 'CMC', 'mINP')


def _to_tensor(value: ArrayLike, name: str,
               device: Optional[torch.device]) -> Tensor:
    """Convert an array-like to a tensor on ``device`` without copying when
    it already is one there."""
    if isinstance(value, Tensor):
        tensor = value
    elif isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        tensor = torch.as_tensor(np.asarray(value))
    else:
        raise TypeError(f'{name} must be a numpy array, a torch tensor or a '
                        f'sequence, got {type(value)}.')
    return tensor if device is None else tensor.to(device)


def _to_ids(value: ArrayLike, name: str, length: int,
            device: torch.device) -> Tensor:
    """Check that ``value`` holds ``length`` integer ids and return them as
    an int64 tensor."""
    ids = _to_tensor(value, name, device)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f'{name} must hold integers, got dtype {ids.dtype}.')
    if ids.dim() != 1 or ids.numel() != length:
        raise ValueError(f'{name} must have shape ({length},) to match '
                         f'distmat, got {tuple(ids.shape)}.')
    return ids.long()


class _RankAccumulator:
    """Accumulates AP, INP and CMC hits over chunks of query rows.

    Only the gallery images that share the query's id need a rank: the
    positives and the same-camera "junk" that the protocol deletes. They are
    few, so instead of sorting each row of G distances (``O(G log G)``), the
    rank of such a candidate ``e`` is counted directly: the number of gallery
    images ``v`` with ``(d(v), index(v)) < (d(e), index(e))``. A row is cut
    into equal-width distance bins; a histogram counts the images in the bins
    below the candidate's bin (all strictly closer, since binning is
    monotonic), and the few images in the candidate's own bin are compared
    one by one. All passes over the row are ``O(G)`` elementwise operations.

    The result equals ranking the gallery with a stable sort on distance
    (equal distances keep gallery order) and then deleting the junk images,
    as the reference loop does.

    Args:
        g_pids (Tensor): ``(G, )`` int64 gallery person ids, G gallery
            images.
        g_camids (Tensor): ``(G, )`` int64 gallery camera ids.
        max_rank (int): Length of the CMC curve.
    """

    # Average number of images per distance bin: fewer bins make the
    # histogram cheaper, more make the one-by-one comparisons fewer.
    images_per_bin = 8

    def __init__(self, g_pids: Tensor, g_camids: Tensor,
                 max_rank: int) -> None:
        self.num_gallery = g_pids.numel()
        self.device = g_pids.device
        self.g_camids = g_camids
        # Gallery indices grouped by id, in gallery order inside a group,
        # so the candidates of a query are one contiguous slice.
        self.sorted_pids, self.pid_order = torch.sort(g_pids, stable=True)
        self.num_bins = max(
            1, min(self.num_gallery // self.images_per_bin, 1 << 12))
        self.max_rank = max_rank
        self.ap_sum = 0.0
        self.inp_sum = 0.0
        self.num_valid = 0
        self.num_queries = 0
        self.first_hit_hist = torch.zeros(
            max_rank + 1, dtype=torch.long, device=self.device)
        self._buffers: Dict[str, Tensor] = {}

    def _buffer(self, name: str, shape: tuple, dtype: torch.dtype) -> Tensor:
        """A work tensor reused across chunks.

        Fresh ``(C, G)`` allocations cost more than the arithmetic on them
        (the memory is returned to the system and faulted in again), so the
        large temporaries live in buffers that only grow.
        """
        numel = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.numel() < numel:
            buf = torch.empty(numel, dtype=dtype, device=self.device)
            self._buffers[name] = buf
        return buf[:numel].view(shape)

    def _bin(self, dist: Tensor) -> Tensor:
        """Monotonic bin of every distance, offset by ``row * num_bins``.

        Args:
            dist (Tensor): ``(C, G)`` finite distances.

        Returns:
            Tensor: ``(C, G)`` int32 global bin numbers (a work buffer).
        """
        num_rows = dist.shape[0]
        lo, hi = dist.amin(1), dist.amax(1)
        # amin / amax propagate NaN, so this checks every distance.
        bad = ~(torch.isfinite(lo) & torch.isfinite(hi))
        if bool(bad.any()):
            raise ValueError('Distances must be finite; found NaN or '
                             'infinite values in the rows of '
                             f'{int(bad.sum())} queries.')
        scale = self.num_bins / (hi - lo)
        # A constant row (or an overflowing scale) goes to a single bin.
        scale = torch.where(torch.isfinite(scale), scale, 0)
        # Each step rounds monotonically, so a smaller bin means a strictly
        # smaller distance.
        scaled = torch.sub(
            dist,
            lo[:, None],
            out=self._buffer('scaled', dist.shape, dist.dtype))
        scaled.mul_(scale[:, None]).clamp_(0, self.num_bins - 1)
        bins = self._buffer('bins', dist.shape, torch.int32).copy_(scaled)
        offsets = torch.arange(
            num_rows, dtype=torch.int32, device=self.device) * self.num_bins
        return bins.add_(offsets[:, None])

    def _stable_ranks(self, dist: Tensor, cand: Tensor,
                      valid: Tensor) -> Tensor:
        """Rank of every candidate in its row under a stable sort.

        Args:
            dist (Tensor): ``(C, G)`` finite distances of C queries.
            cand (Tensor): ``(C, K)`` gallery indices of the K candidates of
                each query (any index in padding slots).
            valid (Tensor): ``(C, K)`` bool, False in padding slots.

        Returns:
            Tensor: ``(C, K)`` int64 0-based ranks in the full gallery
            (meaningless in padding slots).
        """
        num_rows, num_gallery = dist.shape
        bins = self._bin(dist)
        flat_bins = bins.view(-1)
        hist = torch.bincount(
            flat_bins, minlength=num_rows * self.num_bins).view(num_rows, -1)
        cand_bins = bins.gather(1, cand).long()
        # Images in the bins below the candidate's: all strictly closer.
        ranks = (hist.cumsum(1).view(-1)[cand_bins] - hist.view(-1)[cand_bins])

        # The valid candidates sorted by bin, so that the candidates of a
        # bin form one slice.
        cand_slot = valid.view(-1).nonzero().squeeze(1)
        slot_bins, order = torch.sort(cand_bins.view(-1)[cand_slot])
        cand_slot = cand_slot[order]
        slot_dist = dist.gather(1, cand).view(-1)[cand_slot]
        slot_index = cand.view(-1)[cand_slot]

        # Images in the bin of a candidate are compared with the candidates
        # of that bin one by one, in batches of bounded size.
        marked = torch.zeros(
            num_rows * self.num_bins, dtype=torch.bool, device=self.device)
        marked[slot_bins] = True
        picked = torch.index_select(
            marked,
            0,
            flat_bins,
            out=self._buffer('picked', flat_bins.shape,
                             torch.bool)).nonzero().squeeze(1)
        picked_bins = flat_bins[picked].long()
        first = torch.searchsorted(slot_bins, picked_bins)
        count = torch.searchsorted(slot_bins, picked_bins, right=True) - first
        cum = count.cumsum(0)
        total = int(cum[-1]) if cum.numel() else 0
        limits = torch.arange(
            _CHUNK_ELEMENTS,
            max(total, _CHUNK_ELEMENTS),
            _CHUNK_ELEMENTS,
            device=self.device)
        bounds = torch.searchsorted(cum, limits, right=True).tolist()
        flat_dist = dist.view(-1)
        ranks = ranks.view(-1)
        for lo, hi in zip([0] + bounds, bounds + [picked.numel()]):
            if hi <= lo:
                continue
            num = count[lo:hi]
            pair_slot = segment_indices(first[lo:hi], num)
            pair_img = torch.repeat_interleave(
                picked[lo:hi], num, output_size=pair_slot.numel())
            value = flat_dist[pair_img]
            other = slot_dist[pair_slot]
            before = (value < other) | (
                (value == other)
                & (pair_img % num_gallery < slot_index[pair_slot]))
            ranks.index_add_(0, cand_slot[pair_slot[before]],
                             torch.ones_like(pair_slot[before]))
        return ranks.view(num_rows, -1)

    def update(self, dist: Tensor, q_pids: Tensor, q_camids: Tensor) -> None:
        """Add a chunk of query rows.

        Args:
            dist (Tensor): ``(C, G)`` distances of C queries to the G gallery
                images, any floating dtype, finite.
            q_pids (Tensor): ``(C, )`` int64 query person ids.
            q_camids (Tensor): ``(C, )`` int64 query camera ids.
        """
        # Bounds the work buffers whatever the caller's chunk size.
        step = max(1, _CHUNK_ELEMENTS // self.num_gallery)
        for start in range(0, dist.shape[0], step):
            self._update_rows(dist[start:start + step],
                              q_pids[start:start + step],
                              q_camids[start:start + step])

    def _update_rows(self, dist: Tensor, q_pids: Tensor,
                     q_camids: Tensor) -> None:
        dist = dist.contiguous()
        self.num_queries += q_pids.numel()
        lo = torch.searchsorted(self.sorted_pids, q_pids, right=False)
        hi = torch.searchsorted(self.sorted_pids, q_pids, right=True)
        num_cand = hi - lo
        width = int(num_cand.max()) if num_cand.numel() else 0
        if width == 0:
            return
        slot = torch.arange(width, device=self.device)
        valid = slot[None] < num_cand[:, None]
        pos_in_sorted = (lo[:, None] + slot[None]).clamp(max=self.num_gallery -
                                                         1)
        cand = self.pid_order[pos_in_sorted]

        ranks = self._stable_ranks(dist, cand, valid)
        # Order the candidates by rank so that cumulative sums count the
        # junk and the positives ranked before each one.
        ranks = ranks.masked_fill(~valid, torch.iinfo(torch.long).max)
        ranks, order = torch.sort(ranks, dim=1)
        cand = cand.gather(1, order)
        valid = valid.gather(1, order)
        junk = valid & (self.g_camids[cand] == q_camids[:, None])
        positive = valid & ~junk
        # Rank after deleting the junk images that precede the candidate.
        ranks = ranks - (junk.long().cumsum(1) - junk.long())

        num_pos = positive.sum(1)
        is_valid = num_pos > 0
        if not bool(is_valid.any()):
            return
        hits = positive.long().cumsum(1)
        precision = hits.double() / (ranks + 1).double()
        ap = (precision * positive).sum(1)[is_valid] / num_pos[is_valid]
        # Positives come in rank order: the first and the last positive.
        first = ranks.gather(1, positive.long().argmax(1, keepdim=True))
        first = first.squeeze(1)[is_valid]
        hardest = ranks.masked_fill(~positive, -1).amax(1)[is_valid]
        inp = num_pos[is_valid].double() / (hardest + 1).double()

        self.ap_sum += float(ap.sum())
        self.inp_sum += float(inp.sum())
        self.num_valid += int(is_valid.sum())
        self.first_hit_hist += torch.bincount(
            first.clamp(max=self.max_rank), minlength=self.max_rank + 1)

    def result(self) -> Dict[str, Union[float, int, np.ndarray]]:
        """Return the metrics over all valid queries seen so far.

        Returns:
            dict: ``mAP`` and ``mINP`` (float in [0, 1]), ``CMC``
            (``(max_rank, )`` float64 array in [0, 1]),
            ``num_valid_queries`` and ``num_queries`` (int).

        Raises:
            ValueError: If no query had a valid gallery match.
        """
        if self.num_valid == 0:
            raise ValueError(
                f'None of the {self.num_queries} queries has a valid match '
                'in the gallery (an image of the same person from another '
                'camera), so mAP / CMC / mINP are undefined. Check that the '
                'gallery holds the query identities and that camera ids '
                'are set.')
        hits = self.first_hit_hist[:self.max_rank].cumsum(0)
        cmc = hits.double().cpu().numpy() / self.num_valid
        return dict(
            mAP=self.ap_sum / self.num_valid,
            mINP=self.inp_sum / self.num_valid,
            CMC=cmc,
            num_valid_queries=self.num_valid,
            num_queries=self.num_queries)


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

    :meth:`compute_metrics` optionally L2-normalises the features, computes
    query-to-gallery distances one chunk of ``chunk_size`` queries at a
    time (never the whole matrix, unless re-ranking), optionally applies
    k-reciprocal re-ranking (:func:`~mmpha.evaluation.metrics.re_ranking`),
    and ranks each chunk under the standard protocol (see
    :meth:`calculate`). Queries without a valid gallery match are skipped
    and counted in the log; if none is valid, a ``ValueError`` is raised.

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
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        metrics = (metric, ) if isinstance(metric, str) else tuple(metric)
        if len(metrics) == 0:
            raise ValueError(
                f'metric must name at least one of {_METRIC_NAMES}.')
        for name in metrics:
            if name not in _METRIC_NAMES:
                raise ValueError(f'Unknown metric {name!r}; expected any of '
                                 f'{_METRIC_NAMES}.')
        self.metrics = metrics
        if not _is_positive_int(max_rank):
            raise ValueError(
                f'max_rank must be a positive int, got {max_rank!r}.')
        self.max_rank = int(max_rank)
        ranks = (ranks, ) if isinstance(ranks, Integral) else tuple(ranks)
        for k in ranks:
            if not _is_positive_int(k) or k > self.max_rank:
                raise ValueError(f'Every rank must be an int in [1, '
                                 f'max_rank={self.max_rank}], got {k!r}.')
        self.ranks = tuple(int(k) for k in ranks)
        if dist_metric not in ('euclidean', 'cosine'):
            raise ValueError(f"dist_metric must be 'euclidean' or 'cosine', "
                             f'got {dist_metric!r}.')
        self.dist_metric = dist_metric
        self.norm_feat = bool(norm_feat)
        self.rerank = bool(rerank)
        check_rerank_args(k1, k2, lambda_value)
        self.k1 = int(k1)
        self.k2 = int(k2)
        self.lambda_value = float(lambda_value)
        if not _is_positive_int(chunk_size):
            raise ValueError(
                f'chunk_size must be a positive int, got {chunk_size!r}.')
        self.chunk_size = int(chunk_size)

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
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            missing = [
                key
                for key in ('pred_feature', 'gt_label', 'cam_id', 'is_query')
                if key not in sample
            ]
            if missing:
                raise KeyError(f'ReIDMetric needs pred_feature, gt_label, '
                               f'cam_id and is_query in every data sample; '
                               f'{missing} missing (got {sorted(sample)}).')
            feature = torch.as_tensor(sample['pred_feature'])
            if feature.dim() != 1:
                raise ValueError('pred_feature must have shape (D,), got '
                                 f'{tuple(feature.shape)}.')
            self.results.append(
                dict(
                    feature=feature.detach().float().cpu(),
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
        widths = {r['feature'].numel() for r in results}
        if len(widths) != 1:
            raise ValueError(f'All features must have the same width, got '
                             f'widths {sorted(widths)}.')
        # Queries first, each split in dataset order (the gallery order
        # breaks distance ties), stacked once: no further copies.
        ordered = ([r for r in results if r['is_query']] +
                   [r for r in results if not r['is_query']])
        feats = torch.stack([r['feature'] for r in ordered]).float()
        pids = torch.tensor([r['pid'] for r in ordered], dtype=torch.long)
        camids = torch.tensor([r['camid'] for r in ordered], dtype=torch.long)
        del ordered
        if self.norm_feat or self.dist_metric == 'cosine':
            # In place; the cosine distance ignores the norms anyway.
            F.normalize(feats, dim=1, out=feats)
        q_feats, g_feats = feats[:num_query], feats[num_query:]
        q_pids, g_pids = pids[:num_query], pids[num_query:]
        q_camids, g_camids = camids[:num_query], camids[num_query:]

        acc = _RankAccumulator(g_pids, g_camids, self.max_rank)
        for start, dist in self._distance_chunks(q_feats, g_feats):
            stop = start + dist.shape[0]
            acc.update(dist, q_pids[start:stop], q_camids[start:stop])
        num_skipped = acc.num_queries - acc.num_valid
        print_log(
            f'ReIDMetric: {num_query} queries, {num_gallery} gallery images'
            f'{" (re-ranked)" if self.rerank else ""}; {num_skipped} '
            'queries have no valid gallery match (same id, other camera) '
            'and are skipped.',
            logger='current',
            level=logging.WARNING if num_skipped else logging.INFO)
        values = acc.result()

        metrics: Dict[str, float] = {}
        if 'mAP' in self.metrics:
            metrics['mAP'] = float(values['mAP']) * 100
        if 'mINP' in self.metrics:
            metrics['mINP'] = float(values['mINP']) * 100
        if 'CMC' in self.metrics:
            for k in self.ranks:
                metrics[f'R{k}'] = float(values['CMC'][k - 1]) * 100
        return metrics

    def _distance_chunks(self, q_feats: Tensor,
                         g_feats: Tensor) -> Iterable[tuple]:
        """Yield ``(first query index, (C, G) distances)`` chunk by chunk."""
        if self.rerank:
            start = 0
            for dist in iter_re_ranking(
                    q_feats,
                    g_feats,
                    k1=self.k1,
                    k2=self.k2,
                    lambda_value=self.lambda_value,
                    dist_metric=self.dist_metric,
                    chunk_size=self.chunk_size):
                yield start, dist
                start += dist.shape[0]
            return
        # The Euclidean distance, not its square: the ranking is the same
        # and the values are the ones users expect when they inspect them.
        for start in range(0, q_feats.shape[0], self.chunk_size):
            yield start, pairwise_distance(
                q_feats[start:start + self.chunk_size],
                g_feats,
                self.dist_metric,
                normalized=self.dist_metric == 'cosine')

    @staticmethod
    def calculate(distmat: ArrayLike,
                  q_pids: ArrayLike,
                  g_pids: ArrayLike,
                  q_camids: ArrayLike,
                  g_camids: ArrayLike,
                  max_rank: int = 50) -> dict:
        """Compute mAP, CMC and mINP from a query-gallery distance matrix.

        For each query, the gallery is ranked by increasing distance with a
        stable sort (equal distances keep gallery order), gallery images of
        the same id *and* the same camera are deleted, and on what remains:

        - AP = mean over the positives of the precision at their rank;
        - CMC[k] = 1 if a positive is within the first k + 1 ranks;
        - INP = (number of positives) / (rank of the last positive).

        Queries without any positive left are skipped. The work is chunked
        over queries so that at most ~16.7 M ``(query, gallery)`` elements
        of temporaries (about 350 MB) exist at once, besides ``distmat``
        itself; it runs on the device of ``distmat``.

        Args:
            distmat (numpy.ndarray | Tensor): ``(Q, G)`` distances of Q
                queries to G gallery images (smaller is more similar),
                finite.
            q_pids (numpy.ndarray | Tensor): ``(Q, )`` integer query ids.
            g_pids (numpy.ndarray | Tensor): ``(G, )`` integer gallery ids.
            q_camids (numpy.ndarray | Tensor): ``(Q, )`` query camera ids.
            g_camids (numpy.ndarray | Tensor): ``(G, )`` gallery camera
                ids.
            max_rank (int): Length of the CMC curve. If it exceeds G, the
                curve is padded with its last value. Defaults to 50.

        Returns:
            dict: ``mAP`` and ``mINP`` (float, in [0, 1]), ``CMC``
            (``(max_rank, )`` cumulative float64 numpy array in [0, 1]),
            ``num_valid_queries`` (int, the queries not skipped) and
            ``num_queries`` (int).

        Raises:
            ValueError: On shape mismatches, non-finite distances, a
                non-positive ``max_rank``, or if no query has a valid match.
        """
        if not _is_positive_int(max_rank):
            raise ValueError(
                f'max_rank must be a positive int, got {max_rank!r}.')
        distmat = _to_tensor(distmat, 'distmat', None)
        if not distmat.is_floating_point():
            distmat = distmat.double()
        if distmat.dim() != 2 or 0 in distmat.shape:
            raise ValueError('distmat must be a non-empty (Q, G) matrix, got '
                             f'shape {tuple(distmat.shape)}.')
        num_query, num_gallery = distmat.shape
        device = distmat.device
        q_pids = _to_ids(q_pids, 'q_pids', num_query, device)
        q_camids = _to_ids(q_camids, 'q_camids', num_query, device)
        g_pids = _to_ids(g_pids, 'g_pids', num_gallery, device)
        g_camids = _to_ids(g_camids, 'g_camids', num_gallery, device)

        acc = _RankAccumulator(g_pids, g_camids, int(max_rank))
        acc.update(distmat, q_pids, q_camids)
        return acc.result()


def _is_positive_int(value: object) -> bool:
    return (isinstance(value, Integral) and not isinstance(value, bool)
            and value > 0)


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
