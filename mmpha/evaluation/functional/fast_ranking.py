"""The fast path of the ranking: mAP, CMC and mINP without sorting rows.

:func:`~mmpha.evaluation.functional.evaluate_rank` feeds it chunks of query
rows; :func:`~mmpha.evaluation.functional.reference_rank` computes the same
numbers the textbook way, and the tests hold the two identical.
"""
from typing import Dict, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ._indexing import budget_batches, segment_indices

# Bound on the number of ``(query, gallery)`` elements handled at once when
# a distance matrix is ranked in chunks of queries. Each element costs about
# 20 bytes of temporaries, so a chunk stays under ~350 MB.
_CHUNK_ELEMENTS = 1 << 24


class RankAccumulator:
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
        flat_dist = dist.view(-1)
        ranks = ranks.view(-1)
        for lo, hi in budget_batches(count, _CHUNK_ELEMENTS):
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
        cand, valid = self.candidates(q_pids)
        if cand.shape[1] == 0:
            self.num_queries += q_pids.numel()
            return
        self.add_ranks(
            self._stable_ranks(dist, cand, valid), cand, valid, q_camids)

    def candidates(self, q_pids: Tensor) -> Tuple[Tensor, Tensor]:
        """The gallery images that share each query's id.

        Args:
            q_pids (Tensor): ``(C, )`` int64 query person ids.

        Returns:
            tuple[Tensor, Tensor]: ``cand`` ``(C, K)`` int64 gallery indices
            (K the largest number of candidates of a query; any index in
            padding slots), in gallery order, and ``valid`` ``(C, K)`` bool,
            False in padding slots.
        """
        lo = torch.searchsorted(self.sorted_pids, q_pids, right=False)
        hi = torch.searchsorted(self.sorted_pids, q_pids, right=True)
        num_cand = hi - lo
        width = int(num_cand.max()) if num_cand.numel() else 0
        slot = torch.arange(width, device=self.device)
        valid = slot[None] < num_cand[:, None]
        pos_in_sorted = (lo[:, None] +
                         slot[None]).clamp(max=max(self.num_gallery - 1, 0))
        return self.pid_order[pos_in_sorted], valid

    def add_ranks(self, ranks: Tensor, cand: Tensor, valid: Tensor,
                  q_camids: Tensor) -> None:
        """Add queries whose candidates' stable ranks are known.

        Args:
            ranks (Tensor): ``(C, K)`` int64 0-based rank of every candidate
                in the full gallery (stable sort on distance, gallery index
                breaking ties), any value in padding slots.
            cand (Tensor): ``(C, K)`` candidates, from :meth:`candidates`.
            valid (Tensor): ``(C, K)`` bool, False in padding slots.
            q_camids (Tensor): ``(C, )`` int64 query camera ids.
        """
        self.num_queries += q_camids.numel()
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
            dict: See :func:`rank_summary`.
        """
        return rank_summary(self.ap_sum, self.inp_sum, self.first_hit_hist,
                            self.num_valid, self.num_queries, self.max_rank)


def rank_summary(ap_sum: float, inp_sum: float, first_hit_hist: Tensor,
                 num_valid: int, num_queries: int,
                 max_rank: int) -> Dict[str, Union[float, int, np.ndarray]]:
    """The metrics from their sums over the valid queries.

    Args:
        ap_sum (float): Sum of the APs of the valid queries.
        inp_sum (float): Sum of their INPs.
        first_hit_hist (Tensor): ``(max_rank + 1, )`` int64 number of valid
            queries whose first positive is at each 0-based rank (the last
            bin counts the ranks ``>= max_rank``).
        num_valid (int): Queries with at least one positive.
        num_queries (int): All queries.
        max_rank (int): Length of the CMC curve.

    Returns:
        dict: ``mAP`` and ``mINP`` (float in [0, 1]), ``CMC``
        (``(max_rank, )`` float64 array in [0, 1]), ``num_valid_queries``
        and ``num_queries`` (int).

    Raises:
        ValueError: If no query had a valid gallery match.
    """
    if num_valid == 0:
        raise ValueError(
            f'None of the {num_queries} queries has a valid match '
            'in the gallery (an image of the same person from another '
            'camera), so mAP / CMC / mINP are undefined. Check that the '
            'gallery holds the query identities and that camera ids '
            'are set.')
    hits = first_hit_hist[:max_rank].cumsum(0)
    cmc = hits.double().cpu().numpy() / num_valid
    return dict(
        mAP=ap_sum / num_valid,
        mINP=inp_sum / num_valid,
        CMC=cmc,
        num_valid_queries=num_valid,
        num_queries=num_queries)
