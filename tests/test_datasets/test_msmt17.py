"""MSMT17 V1 and V2 layouts (list files)."""
import os
import os.path as osp

import pytest
from reid_fakes import make_msmt17

from mmpha.datasets import MSMT17


@pytest.mark.parametrize('version, train_dir, test_dir',
                         [('v1', 'train', 'test'),
                          ('v2', 'mask_train_v2', 'mask_test_v2')])
def test_versions(tmp_path, version, train_dir, test_dir):
    root = make_msmt17(str(tmp_path / version), version)
    train = MSMT17(root, split='train', version=version)
    # list_train (3 lines) + list_val (1 line).
    assert len(train) == 4
    assert train.metainfo['num_classes'] == 3
    assert train.metainfo['num_cameras'] == 15
    infos = [train.get_data_info(i) for i in range(4)]
    assert [d['gt_label'] for d in infos] == [0, 0, 1, 2]
    # Cameras 01, 05, 15, 07 -> 0, 4, 14, 6.
    assert [d['cam_id'] for d in infos] == [0, 4, 14, 6]
    assert infos[0]['img_path'] == osp.join(
        root, train_dir, '0000', '0000_000_01_0303morning_0015_0.jpg')
    query = MSMT17(root, split='query', version=version)
    assert len(query) == 2
    assert query.get_data_info(0)['img_path'].startswith(
        osp.join(root, test_dir))
    assert [query.get_data_info(i)['is_query'] for i in range(2)] == [True] * 2
    gallery = MSMT17(root, split='gallery', version=version)
    assert len(gallery) == 3
    assert [gallery.get_data_info(i)['cam_id'] for i in range(3)] == [2, 13, 8]


def test_train_without_val(tmp_path):
    root = make_msmt17(str(tmp_path))
    train = MSMT17(root, split='train', combine_train_val=False)
    assert len(train) == 3
    assert train.metainfo['num_classes'] == 2


def test_wrong_version_hints_the_other(tmp_path):
    root = make_msmt17(str(tmp_path), 'v2')
    with pytest.raises(FileNotFoundError) as e:
        MSMT17(root, split='train', version='v1')
    assert osp.join(root, 'train') in str(e.value)
    assert 'set version="v2"' in str(e.value)


def test_missing_list_file(tmp_path):
    root = make_msmt17(str(tmp_path))
    os.remove(osp.join(root, 'list_val.txt'))
    with pytest.raises(FileNotFoundError, match='list_val.txt'):
        MSMT17(root, split='train')


def test_bad_camera_field(tmp_path):
    root = make_msmt17(str(tmp_path))
    with open(osp.join(root, 'list_query.txt'), 'a') as f:
        f.write('0003/0003_000_xx_0303morning_0001_0.jpg 3\n')
    with pytest.raises(ValueError) as e:
        MSMT17(root, split='query')
    assert 'Line 3 of' in str(e.value) and 'list_query.txt' in str(e.value)
    assert '0003_000_xx_0303morning_0001_0.jpg' in str(e.value)
    assert 'PPPP_III_CC' in str(e.value)


def test_camera_out_of_range(tmp_path):
    root = make_msmt17(str(tmp_path))
    with open(osp.join(root, 'list_query.txt'), 'a') as f:
        f.write('0003/0003_000_16_0303morning_0001_0.jpg 3\n')
    with pytest.raises(ValueError, match=r'camera 16 of .*list_query\.txt:3'):
        MSMT17(root, split='query')


def test_malformed_line(tmp_path):
    root = make_msmt17(str(tmp_path))
    with open(osp.join(root, 'list_gallery.txt'), 'a') as f:
        f.write('0003/0003_000_01_0303morning_0001_0.jpg\n')
    with pytest.raises(
            ValueError,
            match=r'Cannot parse line 4 of .*list_gallery\.txt.*"path pid"'):
        MSMT17(root, split='gallery')


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"version must be one of .*'v3'"):
        MSMT17(str(tmp_path), version='v3')
    with pytest.raises(TypeError, match='combine_train_val'):
        MSMT17(str(tmp_path), combine_train_val='yes')
