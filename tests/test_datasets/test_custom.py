"""Custom data: list-file and regex-folder datasets."""
import os.path as osp

import pytest
from reid_fakes import make_folder_layout, write_image

from mmpha.datasets import ReIDFolderDataset, ReIDListDataset
from mmpha.registry import DATASETS


def _write_list(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


@pytest.fixture
def list_root(tmp_path):
    root = str(tmp_path / 'mydata')
    for name in ('a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg'):
        write_image(osp.join(root, 'images', name))
    _write_list(
        osp.join(root, 'train.txt'), [
            '# path pid camid [viewid]', 'a.jpg 30 0', '', 'b.jpg 10 2 1',
            'c.jpg 30 1', 'd.jpg -1 0'
        ])
    _write_list(osp.join(root, 'query.txt'), ['e.jpg 30 1'])
    return root


def test_list_dataset(list_root):
    ds = ReIDListDataset(
        list_root, 'train.txt', data_prefix='images', junk_pids=(-1, ))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert len(infos) == 3  # comment, blank line and junk dropped
    assert [d['gt_label'] for d in infos] == [1, 0, 1]  # 10 -> 0, 30 -> 1
    assert [d['cam_id'] for d in infos] == [0, 2, 1]
    assert [d['view_id'] for d in infos] == [0, 1, 0]
    assert infos[0]['img_path'] == osp.join(list_root, 'images', 'a.jpg')
    assert ds.metainfo == dict(
        split='train', num_classes=2, num_cameras=3, num_views=2, num_images=3)
    query = DATASETS.build(
        dict(
            type='ReIDListDataset',
            data_root=list_root,
            ann_file='query.txt',
            data_prefix='images',
            split='query',
            cam_base=1,
            num_cameras=2))
    info = query.get_data_info(0)
    assert info['gt_label'] == 30 and info['cam_id'] == 0
    assert info['is_query'] is True
    assert query.metainfo['num_cameras'] == 2


def test_list_errors(list_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='query list file.*nope.txt'):
        ReIDListDataset(list_root, 'nope.txt', split='query')
    with pytest.raises(FileNotFoundError, match='dataset root'):
        ReIDListDataset(str(tmp_path / 'x'), 'train.txt')
    with pytest.raises(ValueError, match=r'person id -1 of .*train\.txt:6'):
        ReIDListDataset(list_root, 'train.txt')
    bad = _write_list(osp.join(list_root, 'bad.txt'), ['a.jpg 1 x'])
    with pytest.raises(
            ValueError,
            match=r"Cannot parse line 1 of .*bad\.txt: 'a\.jpg 1 x'"):
        ReIDListDataset(list_root, bad)
    _write_list(osp.join(list_root, 'cam.txt'), ['a.jpg 1 0'])
    with pytest.raises(ValueError, match=r'camera 0 of .*cam\.txt:1'):
        ReIDListDataset(list_root, 'cam.txt', cam_base=1)
    _write_list(osp.join(list_root, 'empty.txt'), ['# nothing'])
    with pytest.raises(ValueError, match=r'"gallery" split is empty.*empty'):
        ReIDListDataset(list_root, 'empty.txt', split='gallery')
    with pytest.raises(TypeError, match='ann_file'):
        ReIDListDataset(list_root, '')
    with pytest.raises(ValueError, match='num_cameras'):
        ReIDListDataset(list_root, 'train.txt', num_cameras=0)


PATTERN = r'id(?P<pid>\d+)-cam(?P<cam>\d+)(-v(?P<view>\d+))?'


def test_folder_dataset_with_regex(tmp_path):
    root = make_folder_layout(
        str(tmp_path),
        dict(
            train=['id5-cam0-v1.png', 'id5-cam1.png', 'id9-cam2-v0.png'],
            probe=['id7-cam0.png'],
            gallery=['id7-cam1.png', 'id8-cam1.png']))
    write_image(osp.join(root, 'gallery', 'more', 'id9-cam0.png'))
    split_dirs = dict(train='train', query='probe', gallery='gallery')
    train = ReIDFolderDataset(
        root, 'train', split_dirs=split_dirs, pattern=PATTERN, cam_base=0)
    infos = [train.get_data_info(i) for i in range(3)]
    assert [d['gt_label'] for d in infos] == [0, 0, 1]
    assert [d['cam_id'] for d in infos] == [0, 1, 2]
    assert [d['view_id'] for d in infos] == [1, 0, 0]
    assert train.metainfo['num_views'] == 2
    query = ReIDFolderDataset(
        root, 'query', split_dirs=split_dirs, pattern=PATTERN, cam_base=0)
    assert query.get_data_info(0)['gt_label'] == 7
    flat = ReIDFolderDataset(
        root, 'gallery', split_dirs=split_dirs, pattern=PATTERN, cam_base=0)
    assert len(flat) == 2
    deep = ReIDFolderDataset(
        root,
        'gallery',
        split_dirs=split_dirs,
        pattern=PATTERN,
        cam_base=0,
        recursive=True)
    assert len(deep) == 3
    assert deep.get_data_info(2)['img_path'] == osp.join(
        root, 'gallery', 'more/id9-cam0.png')


def test_folder_dataset_unnamed_groups(tmp_path):
    root = make_folder_layout(
        str(tmp_path), dict(query=['p12_k3.jpg', 'p4_k1.jpg']))
    ds = ReIDFolderDataset(
        root,
        'query',
        split_dirs=dict(query='query'),
        pattern=r'p(\d+)_k(\d+)')
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [12, 4]
    assert [ds.get_data_info(i)['cam_id'] for i in range(2)] == [2, 0]
    assert ds.metainfo['num_cameras'] == 3  # inferred: max cam_id + 1


def test_folder_dataset_errors(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ValueError, match='named groups "pid" and "cam"'):
        ReIDFolderDataset(root, pattern=r'(?P<id>\d+)_(?P<cam>\d+)')
    with pytest.raises(ValueError, match='needs two groups'):
        ReIDFolderDataset(root, pattern=r'(\d+)')
    with pytest.raises(ValueError, match='not a valid regular expression'):
        ReIDFolderDataset(root, pattern=r'(\d+')
    with pytest.raises(ValueError, match='split_dirs must map "gallery"'):
        ReIDFolderDataset(root, 'gallery', split_dirs=dict(train='t'))
    make_folder_layout(root, dict(query=['x_c1.jpg']))
    with pytest.raises(ValueError, match=r'"x_c1\.jpg" .*does not match'):
        ReIDFolderDataset(root, 'query')
    with pytest.raises(FileNotFoundError) as e:
        ReIDFolderDataset(root, 'gallery')
    assert 'gallery folder' in str(e.value)
    assert 'bounding_box_test/ (gallery)' in str(e.value)
