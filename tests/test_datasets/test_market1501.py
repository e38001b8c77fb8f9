"""Market-1501 layout and the behaviour shared by every re-ID dataset."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from reid_fakes import MARKET_FILES, make_folder_layout, write_image

from mmpha.datasets import BaseReIDDataset, Market1501
from mmpha.registry import DATASETS
from mmpha.structures import ReIDDataSample


@pytest.fixture
def market_root(tmp_path) -> str:
    root = make_folder_layout(str(tmp_path / 'market1501'), MARKET_FILES)
    # Files that are not images are ignored.
    open(osp.join(root, 'bounding_box_test', 'Thumbs.db'), 'w').close()
    return root


def _labels(ds):
    return [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]


def test_train_split_is_relabelled_in_sorted_order(market_root):
    ds = Market1501(market_root, split='train')
    assert len(ds) == 4
    # Raw ids 2, 2, 7, 10 -> 0, 0, 1, 2 (files sorted by name).
    assert _labels(ds) == [0, 0, 1, 2]
    assert ds.pid_to_label == {2: 0, 7: 1, 10: 2}
    assert [ds.get_data_info(i)['cam_id'] for i in range(4)] == [0, 1, 2, 5]
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(market_root, 'bounding_box_train',
                                        '0002_c1s1_000451_03.jpg')
    assert info['view_id'] == 0 and info['is_query'] is False
    assert ds.metainfo == dict(
        split='train', num_classes=3, num_cameras=6, num_views=1, num_images=4)
    np.testing.assert_array_equal(ds.get_gt_labels(), [0, 0, 1, 2])
    assert ds.get_cat_ids(3) == [2]


def test_query_keeps_raw_ids(market_root):
    ds = Market1501(market_root, split='query')
    assert _labels(ds) == [2, 7]
    assert all(ds.get_data_info(i)['is_query'] for i in range(2))
    assert ds.metainfo['num_classes'] == 2
    assert ds.test_mode is True


def test_gallery_drops_junk_keeps_distractors(market_root):
    ds = Market1501(market_root, split='gallery')
    # Sorted names: -1 (junk, dropped), 0000 x2, 0002, 0007; Thumbs.db
    # ignored.
    assert len(ds) == 4
    assert _labels(ds) == [0, 0, 2, 7]
    assert not any(ds.get_data_info(i)['is_query'] for i in range(4))
    assert ds.metainfo['num_classes'] == 3


def test_distractors_dropped_outside_gallery(tmp_path):
    root = make_folder_layout(
        str(tmp_path),
        dict(query=['0000_c1s1_1_00.jpg', '0003_c1s1_1_00.jpg']))
    ds = Market1501(root, split='query')
    assert _labels(ds) == [3]


def test_registered_and_serialized(market_root):
    ds = DATASETS.build(
        dict(type='Market1501', data_root=market_root, split='train'))
    assert isinstance(ds, Market1501) and isinstance(ds, BaseReIDDataset)
    # serialize_data: the list lives in one buffer, not in data_list.
    assert ds.serialize_data and len(ds.data_list) == 0
    plain = Market1501(market_root, split='train', serialize_data=False)
    assert len(plain.data_list) == 4
    assert plain.get_data_info(2)['gt_label'] == 1


def test_lazy_init_reads_nothing_until_needed(tmp_path):
    missing = str(tmp_path / 'not_there')
    ds = Market1501(missing, split='train', lazy_init=True)
    assert 'num_classes' not in ds.metainfo
    with pytest.raises(FileNotFoundError):
        ds.full_init()
    root = make_folder_layout(str(tmp_path / 'm'), MARKET_FILES)
    ds = Market1501(root, split='train', lazy_init=True)
    assert not ds._fully_initialized
    ds.full_init()
    assert ds.metainfo['num_classes'] == 3 and len(ds) == 4


def test_pipeline_output(market_root):
    ds = Market1501(
        market_root,
        split='query',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(4, 8)),
            dict(type='PackReIDInputs')
        ])
    out = ds[1]
    assert out['inputs'].shape == (3, 8, 4)
    assert out['inputs'].dtype == torch.uint8
    sample = out['data_samples']
    assert isinstance(sample, ReIDDataSample)
    assert sample.gt_label.tolist() == [7]
    assert sample.cam_id == 1 and sample.view_id == 0
    assert sample.is_query is True
    assert sample.img_path.endswith('0007_c2s1_000301_00.jpg')


def test_invalid_arguments(market_root):
    with pytest.raises(ValueError, match=r"split must be one of .*'val'"):
        Market1501(market_root, split='val')
    with pytest.raises(TypeError, match='data_root'):
        Market1501('', split='train')


def test_missing_root_and_folder(tmp_path, market_root):
    missing = str(tmp_path / 'nope')
    with pytest.raises(FileNotFoundError) as e:
        Market1501(missing)
    assert missing in str(e.value)
    assert 'bounding_box_train,query,bounding_box_test' in str(e.value)
    os.rename(
        osp.join(market_root, 'query'), osp.join(market_root, 'query_old'))
    with pytest.raises(FileNotFoundError) as e:
        Market1501(market_root, split='query')
    assert osp.join(market_root, 'query') in str(e.value)
    assert 'query folder' in str(e.value)


def test_unparsable_name(market_root):
    write_image(osp.join(market_root, 'query', 'person.jpg'))
    with pytest.raises(ValueError) as e:
        Market1501(market_root, split='query')
    assert '"person.jpg"' in str(e.value)
    assert r'pattern "(?P<pid>-?\d+)_c(?P<cam>\d+)"' in str(e.value)


def test_empty_split(market_root):
    for name in os.listdir(osp.join(market_root, 'query')):
        os.remove(osp.join(market_root, 'query', name))
    with pytest.raises(ValueError, match='the "query" split is empty'):
        Market1501(market_root, split='query')


def test_junk_only_split_is_empty(tmp_path):
    root = make_folder_layout(str(tmp_path), dict(query=['-1_c1s1_1_00.jpg']))
    with pytest.raises(ValueError, match=r'empty.*1 junk'):
        Market1501(root, split='query')


@pytest.mark.parametrize('name, message', [
    ('1502_c1s1_000001_00.jpg', r'person id 1502 of .*1502_c1s1_000001_00'
     r'\.jpg is out of the valid range \[0, 1501\]'),
    ('0003_c7s1_000001_00.jpg', r'camera 7 of .*0003_c7s1_000001_00\.jpg '
     r'is out of the valid range \[1, 6\]'),
    ('0003_c0s1_000001_00.jpg', r'camera 0 of .*0003_c0s1')
])
def test_out_of_range(tmp_path, name, message):
    root = make_folder_layout(str(tmp_path), dict(query=[name]))
    with pytest.raises(ValueError, match=message):
        Market1501(root, split='query')


def test_repr(market_root):
    text = repr(Market1501(market_root, split='gallery'))
    assert 'split: gallery' in text and 'images: 4' in text
    lazy = repr(Market1501(market_root, split='gallery', lazy_init=True))
    assert 'lazy_init' in lazy
