import torch

from mmpha.evaluation.functional._indexing import (budget_batches,
                                                   segment_indices)


def test_segment_indices():
    out = segment_indices(torch.tensor([5, 0, 9]), torch.tensor([2, 0, 3]))
    assert out.tolist() == [5, 6, 9, 10, 11]
    empty = segment_indices(
        torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    assert empty.tolist() == []


def test_budget_batches():
    counts = torch.tensor([2, 2, 0, 3, 9, 1, 1])
    batches = budget_batches(counts, 4)
    # Every item exactly once, in order, no empty batch.
    assert batches == [(0, 3), (3, 4), (4, 5), (5, 7)]
    for lo, hi in batches:
        # Within budget unless one item alone exceeds it.
        assert int(counts[lo:hi].sum()) <= 4 or hi - lo == 1
    assert budget_batches(counts, 100) == [(0, 7)]
    assert budget_batches(torch.tensor([], dtype=torch.long), 4) == []
    assert budget_batches(torch.zeros(3, dtype=torch.long), 4) == [(0, 3)]
