"""Checks of a run's config that MMEngine does not make."""
from mmengine.config import Config


def check_pk_batch(cfg: Config) -> None:
    """Check that the training dataloader and its PK sampler agree.

    The dataloader cuts the sampler's index stream into batches of
    ``train_dataloader.batch_size``; only when that equals the sampler's
    ``batch_size`` (P x K) does every batch hold P identities x K images.
    A mismatch trains silently on broken P x K batches, so it is refused.

    Args:
        cfg (Config): The run's config.

    Raises:
        ValueError: When ``train_dataloader.sampler.type`` is ``PKSampler``
            and the two batch sizes differ; the message names both keys.
    """
    loader = cfg.get('train_dataloader', None)
    if not loader:
        return
    sampler = loader.get('sampler', None) or {}
    if sampler.get('type') not in ('PKSampler', 'mmpha.PKSampler'):
        return
    loader_bs, sampler_bs = loader.get('batch_size'), sampler.get('batch_size')
    if sampler_bs is not None and loader_bs != sampler_bs:
        raise ValueError(
            f'train_dataloader.batch_size={loader_bs} differs from '
            f'train_dataloader.sampler.batch_size={sampler_bs}: with the '
            'PKSampler both must be P x K; set them to the same value')
