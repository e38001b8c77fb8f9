"""Fixtures of the reliability tests."""
import pytest
from reliability_utils import TINY_SPEC

from mmpha.datasets.synthreid_generator import (SynthReIDSpec,
                                                generate_synthreid)


@pytest.fixture(scope='session')
def tiny_synthreid(tmp_path_factory) -> str:
    """A generated SynthReID of 16 train, 8 query and 10 gallery images."""
    root = str(tmp_path_factory.mktemp('synthreid_tiny'))
    generate_synthreid(root, seed=0, spec=SynthReIDSpec(**TINY_SPEC))
    return root
