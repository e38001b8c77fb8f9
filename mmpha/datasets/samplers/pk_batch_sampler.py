"""The P x K batch sampler of the training dataloaders."""
from typing import Iterator, List

from torch.utils.data import Sampler

from mmpha.registry import DATA_SAMPLERS
from .pk_sampler import PKSampler


@DATA_SAMPLERS.register_module()
class PKBatchSampler(Sampler):
    """Batches of P identities x K images, from one batch size and one K.

    The training dataloader states the batch once, as MMEngine expects it::

        train_dataloader = dict(
            batch_size=48,  # P x K
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=dict(type='PKBatchSampler', num_instances=4),
            ...)

    MMEngine's ``Runner.build_dataloader`` always builds ``sampler`` (with
    the dataset and the run's seed) and then this batch sampler with
    ``sampler`` and the dataloader's ``batch_size``. The plain sampler
    only carries the dataset, the seed (synchronised across ranks when
    None), ``shuffle`` and ``round_up``; its own index order is not used.
    The batches are drawn by a :class:`PKSampler` built from those values,
    kept as ``self.sampler``, so that
    :class:`~mmengine.hooks.DistSamplerSeedHook` (which calls
    ``batch_sampler.sampler.set_epoch``) reseeds every epoch, and the
    order, per-rank shares and epoch length are the :class:`PKSampler`'s.

    Because the batch size and K meet here, an inconsistent pair fails
    when the dataloader is built, whichever tool builds it.

    Args:
        sampler (Sampler): The sampler MMEngine built from
            ``train_dataloader.sampler``; it must have ``dataset`` and
            ``seed`` attributes (as :class:`~mmengine.dataset.DefaultSampler`
            has) and must not be a :class:`PKSampler` (which would state
            the batch a second time).
        batch_size (int): Samples per batch on each rank, ``P * K``; MMEngine
            passes ``train_dataloader.batch_size``.
        num_instances (int): K, images per identity in a batch. Defaults
            to 4.

    Raises:
        TypeError: If ``sampler`` carries no ``dataset`` or ``seed``.
        ValueError: If ``sampler`` is a :class:`PKSampler`, or (from
            :class:`PKSampler`) if ``batch_size`` is not a positive multiple
            of ``num_instances`` or the dataset has fewer than
            ``P * world_size`` identities; the message names the values.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 num_instances: int = 4) -> None:
        if isinstance(sampler, PKSampler):
            raise ValueError(
                'PKBatchSampler draws the P x K batches itself; set '
                "train_dataloader.sampler=dict(type='DefaultSampler') "
                'instead of a PKSampler (batch_size '
                f'{sampler.batch_size}, num_instances '
                f'{sampler.num_instances}), so that the batch is stated '
                'once, by train_dataloader.batch_size.')
        missing = [
            name for name in ('dataset', 'seed')
            if getattr(sampler, name, None) is None
        ]
        if missing:
            raise TypeError(
                'PKBatchSampler needs a sampler that carries the dataset and '
                "the seed, such as dict(type='DefaultSampler'); got "
                f'{type(sampler).__name__} without {", ".join(missing)}.')
        self.sampler = PKSampler(
            sampler.dataset,
            batch_size=batch_size,
            num_instances=num_instances,
            shuffle=getattr(sampler, 'shuffle', True),
            seed=sampler.seed,
            round_up=getattr(sampler, 'round_up', True))
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.drop_last = False

    def __iter__(self) -> Iterator[List[int]]:
        """Yield this rank's batches, ``batch_size`` indices each."""
        indices = iter(self.sampler)
        for _ in range(len(self)):
            yield [next(indices) for _ in range(self.batch_size)]

    def __len__(self) -> int:
        """Return the number of batches this rank yields per epoch."""
        return self.sampler.num_steps

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the underlying :class:`PKSampler`.

        Args:
            epoch (int): The epoch number.
        """
        self.sampler.set_epoch(epoch)
