import numpy as np
import pytest

from mmpha.models import TransReIDViT
from mmpha.models.utils.checks import check_non_negative_int


def test_check_non_negative_int():
    assert check_non_negative_int(0, 'shift') == 0
    assert check_non_negative_int(np.int64(3), 'shift') == 3
    with pytest.raises(ValueError, match='shift must be an int >= 0, got -1'):
        check_non_negative_int(-1, 'shift')
    for bad in (True, 1.5, '2'):
        with pytest.raises(TypeError, match='shift must be an int >= 0'):
            check_non_negative_int(bad, 'shift')


def test_backbone_counts_are_checked():
    with pytest.raises(ValueError, match='camera_num must be an int >= 0'):
        TransReIDViT(arch='tiny', camera_num=-1)
    with pytest.raises(
            ValueError, match=r'arch\["num_layers"\] must be a positive int'):
        TransReIDViT(
            arch=dict(
                embed_dims=32,
                num_layers=0,
                num_heads=2,
                feedforward_channels=64))
