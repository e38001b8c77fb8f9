"""VehicleID layout: list files, id counts and the test pool."""
import logging
import os.path as osp

import pytest
from reid_fakes import VEHICLEID_LISTS, make_vehicleid

from mmpha.datasets import VehicleID, published
from mmpha.registry import DATASETS


@pytest.mark.parametrize('crlf', [False, True])
def test_train_split(tmp_path, crlf):
    root = make_vehicleid(str(tmp_path / 'VehicleID_V1.0'), crlf=crlf)
    train = VehicleID(root, split='train')
    infos = [train.get_data_info(i) for i in range(len(train))]
    assert [osp.relpath(d['img_path'], root) for d in infos] == [
        f'image/{line.split()[0]}.jpg'
        for line in VEHICLEID_LISTS['train_list']
    ]
    # Raw ids 1, 1, 17, 17, 4 relabelled in ascending order: 1->0, 4->1, 17->2
    assert [d['gt_label'] for d in infos] == [0, 0, 2, 2, 1]
    assert {d['cam_id'] for d in infos} == {0}
    assert train.metainfo['num_classes'] == 3
    assert train.metainfo['num_cameras'] == 1


@pytest.mark.parametrize('test_size', [800, 1600, 2400])
def test_test_split_is_one_pool(tmp_path, test_size):
    root = make_vehicleid(str(tmp_path / 'VehicleID_V1.0'))
    test = DATASETS.build(
        dict(
            type='VehicleID',
            data_root=str(tmp_path),  # the archive's parent folder
            split='test',
            test_size=test_size))
    lines = VEHICLEID_LISTS[f'test_list_{test_size}']
    assert test.data_root == root
    assert [test.get_data_info(i)['gt_label'] for i in range(len(test))
            ] == [int(line.split()[1]) for line in lines]
    assert not any(test.get_data_info(i)['is_query'] for i in range(len(test)))
    assert test.metainfo['split'] == 'test'


def test_id_counts_are_checked_images_logged(tmp_path, monkeypatch):
    root = make_vehicleid(str(tmp_path / 'VehicleID_V1.0'))
    logs = []
    monkeypatch.setattr(
        published,
        'print_log',
        lambda msg, logger=None, level=logging.INFO: logs.append((level, msg)))
    VehicleID(root, split='test', test_size=1600)
    [(level, message)] = logs
    assert level == logging.WARNING
    assert '"test" split' in message and 'test_list_1600.txt' in message
    assert '2 ids instead of 1600' in message and 'images instead' not in \
        message
    with pytest.raises(ValueError, match=r'3 ids instead of 13164'):
        VehicleID(root, check_stats='error')
    monkeypatch.setitem(VehicleID.PUBLISHED, 'test_800',
                        published.SplitStats(3, None))
    logs.clear()
    VehicleID(root, split='test', check_stats='error')
    assert logs == [(logging.INFO, 'VehicleID test: 6 images of 3 ids, as '
                     'published (3 ids).')]


def test_errors(tmp_path):
    root = make_vehicleid(str(tmp_path / 'VehicleID_V1.0'))
    with pytest.raises(
            ValueError,
            match=r'no fixed query split.*'
            r'split="test".*VehicleIDMetric'):
        VehicleID(root, split='query')
    with pytest.raises(ValueError, match=r'test_size must be one of'):
        VehicleID(root, split='test', test_size=3200)
    with pytest.raises(
            ValueError, match=r"split must be one of \('train', "
            r"'test'\)"):
        VehicleID(root, split='val')
    path = osp.join(root, 'train_test_split', 'train_list.txt')
    with open(path, 'a') as f:
        f.write('../../etc/passwd 3\n')
    with pytest.raises(
            ValueError,
            match=r'line 6 of .*train_list\.txt.*"name '
            r'vehicle_id"'):
        VehicleID(root)
    with pytest.raises(FileNotFoundError, match=r'image folder'):
        VehicleID(str(tmp_path / 'VehicleID_V1.0' / 'train_test_split'))
