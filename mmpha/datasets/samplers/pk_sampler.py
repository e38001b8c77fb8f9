"""P identities x K images per batch, seeded and shared out across ranks."""
import math
from collections import defaultdict, deque
from typing import Deque, Dict, Iterator, List, Optional, Sized, Tuple

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmpha.registry import DATA_SAMPLERS
from mmpha.utils.tensor_ops import check_positive_int


def _read_labels(dataset: Sized) -> np.ndarray:
    """Return the identity label of every sample of ``dataset``."""
    if callable(getattr(dataset, 'get_gt_labels', None)):
        labels = np.asarray(dataset.get_gt_labels())
    elif hasattr(dataset, 'get_data_info'):
        labels = np.array([
            int(dataset.get_data_info(i)['gt_label'])
            for i in range(len(dataset))
        ])
    else:
        raise TypeError('PKSampler needs a dataset with get_gt_labels() or '
                        'get_data_info(i)["gt_label"], got '
                        f'{type(dataset).__name__}.')
    if labels.shape != (len(dataset), ):
        raise ValueError(f'Expected one label per sample ({len(dataset)}), '
                         f'got labels of shape {labels.shape}.')
    return labels.astype(np.int64)


@DATA_SAMPLERS.register_module()
class PKSampler(Sampler):
    """Batches of P identities x K images, for metric learning.

    Every batch of ``batch_size = P * K`` indices holds K images of each of
    P distinct identities, laid out identity by identity. Identities with
    fewer than K images are sampled with replacement.

    How an epoch is drawn, from a generator seeded with ``seed + epoch``
    (the same on every rank):

    1. Each identity's images are shuffled (and, when it has fewer than K,
       topped up by drawing with replacement), then cut into groups of K;
       a remainder shorter than K is discarded. An identity with n >= K
       images gives ``n // K`` groups, so identities appear in proportion
       to their number of images, as in the samplers of TransReID and
       fast-reid.
    2. All groups are shuffled into one queue.
    3. Each step takes, from the head of the queue, ``P * world_size``
       groups of distinct identities (a group whose identity is already in
       the step waits for a later step). When the queue runs dry a new round
       of groups (step 1-2) is appended, so an epoch never runs short.
    4. Rank ``r`` takes groups ``r*P .. (r+1)*P - 1`` of every step: in one
       step no identity appears on two ranks, and no rank repeats another's
       batch.

    Epoch length: ``S = ceil(N / (batch_size * world_size))`` steps with N
    the number of samples (``floor``, at least 1, when ``round_up`` is
    False), so one epoch shows about N images over all ranks whatever the
    identity distribution. ``len(sampler)`` is the per-rank count
    ``S * batch_size``. It is fixed at construction, which the epoch-based
    loop and the parameter schedulers rely on.

    MMEngine builds a dataloader's ``sampler`` without the batch size, so
    the configs do not use this class directly: they give
    :class:`PKBatchSampler` (which builds one from the dataloader's
    ``batch_size``) and state the batch once. Used on its own, the
    dataloader's ``batch_size`` must equal this sampler's.

    Args:
        dataset (Sized): A dataset with ``get_gt_labels()`` (as
            :class:`~mmpha.datasets.BaseReIDDataset`) or
            ``get_data_info(i)['gt_label']``.
        batch_size (int): Samples per batch on each rank, ``P * K``.
        num_instances (int): K, images per identity in a batch. Defaults
            to 4.
        shuffle (bool): Whether to draw a new order every epoch. False
            keeps the order of epoch 0. Defaults to True.
        seed (int, optional): Random seed; None draws one and synchronises
            it across ranks. Defaults to None.
        round_up (bool): Whether the epoch length rounds up (see above).
            Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 batch_size: int,
                 num_instances: int = 4,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        check_positive_int(batch_size, 'batch_size')
        check_positive_int(num_instances, 'num_instances')
        if batch_size % num_instances != 0:
            raise ValueError(
                f'batch_size ({batch_size}) must be a multiple of '
                f'num_instances K ({num_instances}): a batch holds P '
                'identities x K images.')
        rank, world_size = get_dist_info()
        self.rank = rank
        self.world_size = world_size
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_pids_per_batch = batch_size // num_instances
        self.shuffle = shuffle
        self.round_up = round_up
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0

        labels = _read_labels(dataset)
        index_of: Dict[int, List[int]] = defaultdict(list)
        for idx, label in enumerate(labels.tolist()):
            index_of[label].append(idx)
        self.pids: List[int] = sorted(index_of)
        self.index_of = {pid: np.array(index_of[pid]) for pid in self.pids}
        needed = self.num_pids_per_batch * world_size
        if len(self.pids) < needed:
            raise ValueError(
                f'PKSampler needs at least P x world_size = '
                f'{self.num_pids_per_batch} x {world_size} = {needed} '
                f'identities (batch_size {batch_size} / num_instances '
                f'{num_instances}), but the dataset has {len(self.pids)}.')

        global_batch = batch_size * world_size
        num_samples = len(labels)
        steps = (
            math.ceil(num_samples /
                      global_batch) if round_up else num_samples //
            global_batch)
        self.num_steps = max(1, steps)

    def _new_round(self, rng: np.random.Generator) -> List[Tuple[int, ...]]:
        """Cut every identity into groups of K and shuffle the groups."""
        k = self.num_instances
        groups = []
        for pid in self.pids:
            idxs = rng.permutation(self.index_of[pid])
            if len(idxs) < k:
                idxs = np.concatenate(
                    [idxs, rng.choice(idxs, k - len(idxs), replace=True)])
            for start in range(0, len(idxs) - k + 1, k):
                groups.append((pid, ) + tuple(idxs[start:start + k].tolist()))
        order = rng.permutation(len(groups))
        return [groups[i] for i in order]

    def global_steps(self) -> List[List[List[int]]]:
        """Draw the epoch for all ranks.

        Returns:
            list[list[list[int]]]: ``steps[s][r]`` is the batch of rank r at
            step s, ``batch_size`` indices.
        """
        epoch = self.epoch if self.shuffle else 0
        rng = np.random.default_rng([self.seed, epoch])
        p, world = self.num_pids_per_batch, self.world_size
        queue: Deque[Tuple[int, ...]] = deque()
        steps = []
        for _ in range(self.num_steps):
            chosen: List[Tuple[int, ...]] = []
            used = set()
            waiting = []
            while len(chosen) < p * world:
                if not queue:
                    queue.extend(self._new_round(rng))
                group = queue.popleft()
                if group[0] in used:
                    waiting.append(group)
                else:
                    used.add(group[0])
                    chosen.append(group)
            # Deferred groups go back to the head: they are used first next
            # step, which keeps every identity's share close to its groups.
            queue.extendleft(reversed(waiting))
            steps.append(
                [[i for g in chosen[r * p:(r + 1) * p] for i in g[1:]]
                 for r in range(world)])
        return steps

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices, ``len(self)`` of them."""
        for step in self.global_steps():
            yield from step[self.rank]

    def __len__(self) -> int:
        """Return the number of indices this rank yields per epoch."""
        return self.num_steps * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which seeds the order of the next iteration.

        Args:
            epoch (int): The epoch number.
        """
        self.epoch = epoch
