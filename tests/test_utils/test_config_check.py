import pytest
from mmengine.config import Config

from mmpha.utils import check_pk_batch


def _cfg(loader_bs, sampler_bs, sampler_type='PKSampler'):
    return Config(
        dict(
            train_dataloader=dict(
                batch_size=loader_bs,
                sampler=dict(
                    type=sampler_type, batch_size=sampler_bs,
                    num_instances=4))))


def test_pk_batch_mismatch_names_both_keys():
    check_pk_batch(_cfg(32, 32))
    with pytest.raises(
            ValueError,
            match=r'train_dataloader\.batch_size=48 differs from '
            r'train_dataloader\.sampler\.batch_size=32'):
        check_pk_batch(_cfg(48, 32))


def test_other_samplers_and_missing_loader_pass():
    check_pk_batch(_cfg(48, 32, sampler_type='DefaultSampler'))
    check_pk_batch(Config(dict(model=dict())))


def test_batch_sampler_restating_the_batch_is_refused():
    cfg = Config(
        dict(
            train_dataloader=dict(
                batch_size=48,
                sampler=dict(type='DefaultSampler'),
                batch_sampler=dict(
                    type='PKBatchSampler', batch_size=32, num_instances=4))))
    with pytest.raises(
            ValueError,
            match=r'batch_size=48 differs from '
            r'train_dataloader\.batch_sampler\.batch_size=32'):
        check_pk_batch(cfg)
    cfg.train_dataloader.batch_sampler.pop('batch_size')
    check_pk_batch(cfg)
