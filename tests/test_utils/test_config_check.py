import pytest
import torch
from mmengine.config import Config

from mmpha.utils import check_pk_batch, setup_num_threads


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


def test_num_threads(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    before = torch.get_num_threads()
    try:
        setup_num_threads(Config(dict(env_cfg=dict(num_threads=1))))
        assert torch.get_num_threads() == 1
        setup_num_threads(Config(dict(env_cfg=dict())))
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match=r"num_threads.*got 'two'"):
            setup_num_threads(Config(dict(env_cfg=dict(num_threads='two'))))
        with pytest.raises(ValueError, match=r'num_threads.*got 0'):
            setup_num_threads(Config(dict(env_cfg=dict(num_threads=0))))
    finally:
        torch.set_num_threads(before)
