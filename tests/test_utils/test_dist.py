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


def test_dist_timeout_is_validated():
    from mmpha.utils.dist import dist_timeout
    assert dist_timeout(Config(dict())) is None
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=7))))
    assert dist_timeout(cfg).total_seconds() == 7
    for bad in (0, -3, 'soon', True):
        cfg = Config(
            dict(env_cfg=dict(dist_cfg=dict(backend='gloo', timeout=bad))))
        with pytest.raises(ValueError, match=f'timeout.*{bad!r}'):
            dist_timeout(cfg)


_STALL_SCRIPT = '''
import os, sys, time
import torch.distributed as dist
from mmengine.config import Config
from mmpha.utils import setup_cpu_distributed
cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=3))))
setup_cpu_distributed(cfg, 'pytorch')
rank = dist.get_rank()
with open(os.path.join(sys.argv[1], f'rank{rank}.started'), 'w') as f:
    f.write(str(time.time()))
if rank == 1:
    time.sleep(300)  # a stalled rank
start = time.time()
try:
    dist.barrier()
except Exception as err:
    with open(os.path.join(sys.argv[1], 'rank0.error'), 'w') as f:
        f.write(f'{time.time() - start:.1f} {err}')
    raise
'''


@pytest.mark.slow
def test_stalled_rank_fails_within_the_gloo_timeout(tmp_path):
    """``env_cfg.dist_cfg.timeout`` reaches the gloo process group."""
    import socket
    import subprocess
    import sys
    import time

    import torch
    if torch.cuda.is_available():
        pytest.skip('the gloo path is only taken without CUDA')
    script = tmp_path / 'stall.py'
    script.write_text(_STALL_SCRIPT)
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    start = time.time()
    result = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={port}',
        str(script),
        str(tmp_path)
    ],
                            capture_output=True,
                            text=True,
                            timeout=240)
    elapsed = time.time() - start
    assert result.returncode != 0
    assert (tmp_path / 'rank1.started').exists(), result.stderr[-2000:]
    error = (tmp_path / 'rank0.error').read_text()
    waited = float(error.split()[0])
    # Timed out after about 3 s, not torch's default of 30 minutes.
    assert 2.0 <= waited < 30, error
    assert 'timed out' in error.lower() or 'timeout' in error.lower(), error
    assert elapsed < 200, elapsed
