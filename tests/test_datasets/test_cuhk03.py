"""CUHK03-NP layout: labeled/ and detected/ sub-folders of .png files."""
import os.path as osp

import pytest
from reid_fakes import CUHK03_FILES, make_folder_layout, write_image

from mmpha.datasets import CUHK03


@pytest.fixture
def cuhk_root(tmp_path):
    root = str(tmp_path / 'cuhk03-np')
    make_folder_layout(osp.join(root, 'labeled'), CUHK03_FILES)
    detected = dict(CUHK03_FILES)
    detected['bounding_box_train'] = CUHK03_FILES['bounding_box_train'][:3]
    make_folder_layout(osp.join(root, 'detected'), detected)
    # A .jpg is not part of CUHK03-NP: ignored.
    write_image(osp.join(root, 'labeled', 'query', '0200_c1_1.jpg'))
    return root


@pytest.mark.parametrize('subset, num_train, num_ids', [('labeled', 5, 3),
                                                        ('detected', 3, 2)])
def test_subsets(cuhk_root, subset, num_train, num_ids):
    train = CUHK03(cuhk_root, split='train', subset=subset)
    assert len(train) == num_train
    assert train.metainfo['num_classes'] == num_ids
    assert train.metainfo['num_cameras'] == 2
    assert train.data_root == osp.join(cuhk_root, subset)
    query = CUHK03(cuhk_root, split='query', subset=subset)
    assert [query.get_data_info(i)['gt_label'] for i in range(2)] == [100, 101]
    assert [query.get_data_info(i)['cam_id'] for i in range(2)] == [0, 1]
    gallery = CUHK03(cuhk_root, split='gallery', subset=subset)
    assert len(gallery) == 3


def test_relabel_labeled(cuhk_root):
    train = CUHK03(cuhk_root, split='train')
    # Names sort as 0001_c1_1, 0001_c2_6, 0003_c1_2, 0004_c2_10, 0004_c2_9.
    assert [train.get_data_info(i)['gt_label']
            for i in range(5)] == [0, 0, 1, 2, 2]


def test_bad_subset(cuhk_root):
    with pytest.raises(ValueError, match=r"subset must be one of .*'both'"):
        CUHK03(cuhk_root, subset='both')


def test_missing_subset_folder(tmp_path):
    root = str(tmp_path / 'cuhk03-np')
    make_folder_layout(osp.join(root, 'labeled'), CUHK03_FILES)
    with pytest.raises(FileNotFoundError) as e:
        CUHK03(root, subset='detected')
    assert osp.join(root, 'detected') in str(e.value)
    assert '{labeled,detected}' in str(e.value)


def test_camera_out_of_range(tmp_path):
    root = str(tmp_path)
    make_folder_layout(
        osp.join(root, 'labeled'), dict(query=['0001_c3_1.png']))
    with pytest.raises(ValueError, match=r'camera 3 of .*0001_c3_1\.png'):
        CUHK03(root, split='query')
