"""Under DDP the ranks' P x K slices make up the one-process batch.

With ``cross_rank_batch`` the losses see the batch gathered in rank order,
so W ranks of batch ``B / W`` train what one process of batch ``B`` trains
only if every global step is exactly the one-process batch, split into
whole K-groups.
"""
import numpy as np
import pytest

import mmpha.datasets.samplers.pk_sampler as pk_module
from mmpha.datasets import PKSampler

# 20 identities with 2..9 images each (some below K = 4).
LABELS = np.repeat(np.arange(20), [2 + i % 8 for i in range(20)])


class LabelDataset:

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


def _steps(monkeypatch, rank, world_size, batch_size, epoch):
    monkeypatch.setattr(pk_module, 'get_dist_info', lambda: (rank, world_size))
    sampler = PKSampler(
        LabelDataset(LABELS), batch_size=batch_size, num_instances=4, seed=7)
    sampler.set_epoch(epoch)
    idxs = list(sampler)
    return [idxs[i:i + batch_size] for i in range(0, len(idxs), batch_size)]


@pytest.mark.parametrize('world_size', [2, 4])
@pytest.mark.parametrize('epoch', [0, 3])
def test_rank_slices_concatenate_to_the_one_process_batch(
        monkeypatch, world_size, epoch):
    global_batch = 16
    single = _steps(monkeypatch, 0, 1, global_batch, epoch)
    ranks = [
        _steps(monkeypatch, r, world_size, global_batch // world_size, epoch)
        for r in range(world_size)
    ]
    assert all(len(steps) == len(single) for steps in ranks)
    for step, batch in enumerate(single):
        slices = [steps[step] for steps in ranks]
        assert sum(slices, []) == batch, step
        for piece in slices:
            # Whole K-groups: every identity of a slice has its 4 images
            # there, and no identity is shared between slices.
            ids, counts = np.unique(LABELS[piece], return_counts=True)
            assert (counts == 4).all(), (step, counts)
        owners = [set(LABELS[piece].tolist()) for piece in slices]
        assert sum(len(o) for o in owners) == len(set().union(*owners))
