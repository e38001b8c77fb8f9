import pytest
import torch.distributed as torch_dist
from mmengine.config import Config

from mmpha.utils import setup_cpu_distributed, teardown_distributed


def test_teardown_destroys_the_group(tmp_path):
    teardown_distributed()  # nothing to do outside a distributed run
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    assert torch_dist.is_initialized()
    teardown_distributed()
    assert not torch_dist.is_initialized()


def test_cpu_setup_needs_torchrun_environment(monkeypatch):
    import torch
    if torch.cuda.is_available():
        pytest.skip('the CPU path is only taken without CUDA')
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg, 'none') is False
    with pytest.raises(ValueError, match=r"\['RANK', 'WORLD_SIZE'"):
        setup_cpu_distributed(cfg, 'pytorch')
    with pytest.raises(ValueError, match="launcher='slurm' needs CUDA"):
        setup_cpu_distributed(cfg, 'slurm')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
