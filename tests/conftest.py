"""Shared pytest set-up: threads, the default scope and the repository root."""
import os
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Two cores are shared by the test process and the subprocesses it starts.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from mmpha.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def repo_root() -> str:
    """Absolute path of the repository checkout."""
    return REPO_ROOT
