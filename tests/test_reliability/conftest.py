"""Fixtures of the reliability tests."""
import pytest
import torch
from reliability_utils import TINY_SPEC

from mmpha.datasets.synthreid import SynthReIDSpec, generate_synthreid


@pytest.fixture(scope='session')
def tiny_synthreid(tmp_path_factory) -> str:
    """A generated SynthReID of 16 train, 8 query and 10 gallery images."""
    root = str(tmp_path_factory.mktemp('synthreid_tiny'))
    generate_synthreid(root, seed=0, spec=SynthReIDSpec(**TINY_SPEC))
    return root


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models gain nothing from a second thread, and on a shared
    2-core machine the threads' synchronisation makes steps several times
    slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
