"""PackReIDInputs."""
import numpy as np
import pytest
import torch

from mmpha.datasets.transforms import PackReIDInputs
from mmpha.registry import TRANSFORMS
from mmpha.structures import ReIDDataSample


def _results(**extra):
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    results = dict(
        img=img,
        gt_label=4,
        cam_id=2,
        img_path='q/0004_c3s1_1_00.jpg',
        ori_shape=(2, 3),
        img_shape=(2, 3),
        flip=False,
        sample_idx=9,
        other='dropped')
    results.update(extra)
    return results


def test_pack():
    pack = TRANSFORMS.build(dict(type='PackReIDInputs'))
    out = pack(_results(view_id=1, is_query=True))
    assert set(out) == {'inputs', 'data_samples'}
    inputs = out['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 2, 3)
    # HWC -> CHW without touching the channel order.
    assert torch.equal(inputs,
                       torch.from_numpy(_results()['img']).permute(2, 0, 1))
    sample = out['data_samples']
    assert isinstance(sample, ReIDDataSample)
    assert sample.gt_label.tolist() == [4]
    assert (sample.cam_id, sample.view_id, sample.is_query) == (2, 1, True)
    assert sample.metainfo == dict(
        sample_idx=9,
        img_path='q/0004_c3s1_1_00.jpg',
        ori_shape=(2, 3),
        img_shape=(2, 3),
        flip=False)


def test_defaults_and_meta_keys():
    out = PackReIDInputs(meta_keys=('img_path', ))(_results())
    sample = out['data_samples']
    assert sample.view_id == 0 and sample.is_query is False
    assert sample.metainfo == dict(img_path='q/0004_c3s1_1_00.jpg')
    assert "meta_keys=('img_path',)" in repr(PackReIDInputs(('img_path', )))


def test_errors():
    results = _results()
    del results['cam_id']
    with pytest.raises(KeyError, match=r"\['cam_id'\].*0004_c3s1"):
        PackReIDInputs()(results)
    with pytest.raises(TypeError, match='meta_keys must be a sequence'):
        PackReIDInputs(meta_keys='img_path')
