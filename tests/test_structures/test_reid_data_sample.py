"""ReIDDataSample: fields, conversions, errors and the doctest."""
import doctest

import numpy as np
import pytest
import torch

import mmpha.structures.reid_data_sample as module
from mmpha.structures import ReIDDataSample


def test_doctest():
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize('value', [
    3,
    np.int64(3),
    torch.tensor(3),
    torch.tensor([3]),
    np.array([3]), [3], (3, )
])
def test_gt_label_formats(value):
    sample = ReIDDataSample().set_gt_label(value)
    assert sample.gt_label.dtype == torch.long
    assert sample.gt_label.tolist() == [3]


@pytest.mark.parametrize('value, error, message', [
    ([1, 2], ValueError, 'exactly one person id, got 2 values'),
    (torch.tensor([1.5]), TypeError, 'must be integral'),
    (True, TypeError, 'got bool'),
    ('3', TypeError, 'must be an int'),
])
def test_gt_label_errors(value, error, message):
    with pytest.raises(error, match=message):
        ReIDDataSample().set_gt_label(value)


def test_fields_and_to_dict():
    sample = ReIDDataSample(metainfo=dict(img_path='a/0001_c2s1_1_00.jpg'))
    sample.set_gt_label(7).set_cam_id(np.int64(1)).set_view_id(2)
    sample.set_is_query(np.bool_(True))
    feat = torch.arange(4.)
    sample.set_pred_feature(feat)
    assert sample.cam_id == 1 and type(sample.cam_id) is int
    assert sample.view_id == 2
    assert sample.is_query is True
    d = sample.to_dict()
    assert set(d) == {
        'gt_label', 'cam_id', 'view_id', 'is_query', 'img_path', 'pred_feature'
    }
    assert d['img_path'] == 'a/0001_c2s1_1_00.jpg'
    assert torch.equal(d['pred_feature'], feat)
    assert 'img_path' in sample.metainfo_keys()
    assert 'cam_id' in sample.keys()


def test_field_errors():
    sample = ReIDDataSample()
    with pytest.raises(ValueError, match='cam_id must be >= 0'):
        sample.set_cam_id(-2)
    with pytest.raises(TypeError, match='view_id must be an int'):
        sample.set_view_id(1.0)
    with pytest.raises(TypeError, match='is_query must be a bool'):
        sample.set_is_query(1)
    with pytest.raises(ValueError, match=r'1-D tensor .* shape \(1, 4\)'):
        sample.set_pred_feature(torch.zeros(1, 4))


def test_moves_with_to():
    sample = ReIDDataSample().set_gt_label(1).set_cam_id(0)
    moved = sample.to('cpu')
    assert moved.gt_label.tolist() == [1] and moved.cam_id == 0
