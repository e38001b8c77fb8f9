"""Verification ROC of re-ID: TPR at fixed FPR over query-gallery pairs.

Every query-gallery pair is a verification trial whose score is the
negative distance (the larger, the more alike). Pairs of the same person
under the same camera are left out, as in the ranking protocol; pairs of
the same person (other cameras) are the positives, pairs of different
people the negatives. A threshold ``t`` accepts the pairs with
``score >= t``; ``FPR(t)`` and ``TPR(t)`` are the shares of negatives and
positives accepted.

``TPR@FPR=f`` is the largest ``TPR(t)`` over the thresholds whose
``FPR(t) <= f``, equal scores always being accepted or rejected together (a
threshold never splits a tie). Unlike reading the ROC point nearest to
``f`` (as fast-reid does), the reported operating point therefore never
exceeds the target FPR.

Computed exactly without sorting all pairs: with ``n`` negatives, at most
``m = floor(f * n)`` of them may be accepted, so the best threshold lies
just above the ``(m + 1)``-th largest negative score ``v``, and
``TPR@FPR=f`` is the share of positive scores ``> v`` (every negative tied
with ``v`` is rejected with it, and so are the positives tied with it).
Only the ``m_max + 1`` largest negative scores (``m_max`` for the largest
target) and the positive scores are kept across chunks of queries; for
Market-1501 (3,368 x 15,913 = 53.6 M pairs, about 53 M negatives) and
``f = 1e-2`` that is about 0.54 M negatives (2 MB), each chunk merged with
``torch.topk``.
"""
import math
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

#: The default targets: FPR = 1e-4, 1e-3, 1e-2.
DEFAULT_FPRS: Tuple[float, ...] = (1e-4, 1e-3, 1e-2)


def check_fprs(fprs: Sequence[float]) -> Tuple[float, ...]:
    """Check the FPR targets: a non-empty sequence of numbers in (0, 1]."""
    fprs = tuple(fprs)
    if not fprs or any(
            isinstance(f, bool) or not isinstance(f, (int,
                                                      float)) or not 0 < f <= 1
            for f in fprs):
        raise ValueError(
            f'roc_fprs must be a non-empty sequence of numbers in (0, 1], '
            f'got {fprs!r}.')
    return tuple(float(f) for f in fprs)


def max_false_accepts(fpr: float, num_negatives: int) -> int:
    """The largest ``m`` with ``m / num_negatives <= fpr`` (in floats)."""
    m = min(num_negatives, int(math.floor(fpr * num_negatives)))
    while m < num_negatives and (m + 1) / num_negatives <= fpr:
        m += 1
    while m > 0 and m / num_negatives > fpr:
        m -= 1
    return m


class ROCAccumulator:
    """TPR at fixed FPRs over chunks of query rows (see the module notes).

    Args:
        q_pids (Tensor): ``(Q, )`` int64 ids of all queries (the number of
            negatives is known before any distance is seen).
        g_pids (Tensor): ``(G, )`` int64 gallery ids.
        g_camids (Tensor): ``(G, )`` int64 gallery cameras.
        fprs (Sequence[float]): Target FPRs in (0, 1]. Defaults to
            :data:`DEFAULT_FPRS`.
    """

    def __init__(self,
                 q_pids: Tensor,
                 g_pids: Tensor,
                 g_camids: Tensor,
                 fprs: Sequence[float] = DEFAULT_FPRS) -> None:
        self.fprs = check_fprs(fprs)
        self.g_pids = g_pids
        self.g_camids = g_camids
        ids, counts = torch.unique(g_pids, return_counts=True)
        pos = torch.searchsorted(ids, q_pids).clamp(max=ids.numel() - 1)
        same = torch.where(ids[pos] == q_pids, counts[pos], 0)
        self.num_negatives = int((g_pids.numel() - same).sum())
        # The (m + 1)-th largest negative is needed for every target with
        # m < n (a target that accepts every negative has TPR 1).
        needed = [
            m + 1 for m in (max_false_accepts(f, self.num_negatives)
                            for f in self.fprs) if m < self.num_negatives
        ]
        self.keep = max(needed, default=0)
        self.top_negatives = g_pids.new_empty(0, dtype=torch.float64)
        self.positives = []

    def update(self, dist: Tensor, q_pids: Tensor, q_camids: Tensor) -> None:
        """Add a chunk of query rows.

        Args:
            dist (Tensor): ``(C, G)`` distances of C queries.
            q_pids (Tensor): ``(C, )`` int64 query ids.
            q_camids (Tensor): ``(C, )`` int64 query cameras.
        """
        score = -dist.double()
        same_id = q_pids[:, None] == self.g_pids[None]
        same_cam = q_camids[:, None] == self.g_camids[None]
        self.positives.append(score[same_id & ~same_cam])
        if self.keep == 0:
            return
        negatives = score[~same_id]
        if self.top_negatives.numel() == self.keep:
            # Only a score above the current k-th largest can enter (an
            # equal one leaves the kept values as they are).
            negatives = negatives[negatives > self.top_negatives.min()]
        merged = torch.cat([self.top_negatives, negatives])
        if merged.numel() > self.keep:
            merged = merged.topk(self.keep, sorted=False).values
        self.top_negatives = merged

    def result(self) -> Dict[float, float]:
        """``{fpr: TPR@FPR}``, fractions in [0, 1].

        Raises:
            ValueError: If there are no positive or no negative pairs.
        """
        positives = torch.cat(self.positives) if self.positives else None
        if positives is None or positives.numel() == 0:
            raise ValueError('The ROC needs positive pairs (same id, other '
                             'camera); there are none.')
        if self.num_negatives == 0:
            raise ValueError('The ROC needs negative pairs (different ids); '
                             'there are none.')
        negatives = self.top_negatives.sort(descending=True).values
        out = {}
        for fpr in self.fprs:
            m = max_false_accepts(fpr, self.num_negatives)
            if m >= self.num_negatives:
                out[fpr] = 1.0
                continue
            # Accept the scores strictly above the (m + 1)-th largest
            # negative: at most m negatives, ties rejected together.
            out[fpr] = float(
                (positives > negatives[m]).sum()) / positives.numel()
        return out
