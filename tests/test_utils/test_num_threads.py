"""``env_cfg.num_threads``, applied by tools/train.py and tools/test.py."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config


@pytest.fixture
def train_tool():
    import mmpha.utils
    return mmpha.utils


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_num_threads_is_applied(train_tool, restore_threads, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    torch.set_num_threads(2)
    train_tool.setup_num_threads(Config(dict(env_cfg=dict(num_threads=1))))
    assert torch.get_num_threads() == 1


def test_environment_and_absent_key_win(train_tool, restore_threads,
                                        monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    train_tool.setup_num_threads(Config(dict(env_cfg=dict(num_threads=1))))
    assert torch.get_num_threads() == 2
    monkeypatch.delenv('OMP_NUM_THREADS')
    train_tool.setup_num_threads(Config(dict(env_cfg=dict())))
    train_tool.setup_num_threads(Config(dict()))
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize('bad', [0, -1, 1.5, '1', True])
def test_bad_num_threads_is_rejected(train_tool, bad):
    with pytest.raises(ValueError, match='num_threads'):
        train_tool.setup_num_threads(
            Config(dict(env_cfg=dict(num_threads=bad))))


def test_tiny_synthreid_configs_use_one_thread(repo_root):
    from _tiny_reid import PHA_CFG, TRANSREID_CFG
    for path in (TRANSREID_CFG, PHA_CFG):
        cfg = Config.fromfile(osp.join(repo_root, path))
        assert cfg.env_cfg.num_threads == 1, path
