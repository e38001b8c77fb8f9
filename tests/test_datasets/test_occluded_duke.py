"""Occluded-Duke layout and its published statistics."""
import logging
import os.path as osp

import pytest
from reid_fakes import OCC_DUKE_FILES, make_folder_layout

from mmpha.datasets import OccludedDuke, published
from mmpha.registry import DATASETS


def _tree(tmp_path, top='Occluded_Duke'):
    root = make_folder_layout(str(tmp_path / top), OCC_DUKE_FILES)
    for folder in OCC_DUKE_FILES:
        # Stray files of real copies: not .jpg, ignored.
        open(osp.join(root, folder, 'Thumbs.db'), 'wb').close()
    open(osp.join(root, 'query', 'readme.txt'), 'w').close()
    return root


def test_splits(tmp_path):
    root = _tree(tmp_path)
    train = OccludedDuke(root, split='train')
    assert [train.get_data_info(i)['gt_label'] for i in range(3)] == [0, 0, 1]
    assert [train.get_data_info(i)['cam_id'] for i in range(3)] == [1, 7, 0]
    assert train.metainfo['num_classes'] == 2
    assert train.metainfo['num_cameras'] == 8
    query = OccludedDuke(root, split='query')
    assert [query.get_data_info(i)['gt_label'] for i in range(2)] == [3, 4]
    assert all(query.get_data_info(i)['is_query'] for i in range(2))
    gallery = DATASETS.build(
        dict(type='OccludedDuke', data_root=root, split='gallery'))
    # The -1 junk box is dropped, large raw ids are kept.
    assert [gallery.get_data_info(i)['gt_label']
            for i in range(len(gallery))] == [3, 4, 7140]


def test_parent_of_the_archive_folder_is_accepted(tmp_path):
    _tree(tmp_path)
    data = OccludedDuke(str(tmp_path), split='query')
    assert data.data_root == str(tmp_path / 'Occluded_Duke')
    assert len(data) == 2


def _record_logs(monkeypatch):
    logs = []
    monkeypatch.setattr(
        published,
        'print_log',
        lambda msg, logger=None, level=logging.INFO: logs.append((level, msg)))
    return logs


def test_counts_are_logged_and_a_wrong_split_is_named(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    logs = _record_logs(monkeypatch)
    OccludedDuke(root, split='query')
    [(level, message)] = [log for log in logs if 'split' in log[1]]
    assert level == logging.WARNING
    assert '"query" split' in message
    assert '2 ids instead of 519' in message
    assert '2 images instead of 2210' in message
    with pytest.raises(
            ValueError,
            match=r'"gallery" split .*3 ids instead of 1110 and 3 images '
            r'instead of 17661'):
        OccludedDuke(root, split='gallery', check_stats='error')
    # Off: no check at all.
    assert len(OccludedDuke(root, split='gallery', check_stats='off')) == 3
    with pytest.raises(ValueError, match=r"check_stats must be one of"):
        OccludedDuke(root, check_stats='strict')


def test_published_numbers_pass_and_are_logged(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    logs = _record_logs(monkeypatch)
    monkeypatch.setitem(OccludedDuke.PUBLISHED, 'query',
                        published.SplitStats(2, 2))
    # Exactly the published size: no error even when strict.
    assert len(OccludedDuke(root, split='query', check_stats='error')) == 2
    assert (logging.INFO, 'OccludedDuke query: 2 images of 2 ids, as '
            'published (2 images of 2 ids).') in logs


def test_bad_name_and_missing_folder(tmp_path):
    root = _tree(tmp_path)
    open(osp.join(root, 'query', 'c4_0003.jpg'), 'wb').close()
    with pytest.raises(ValueError, match=r'c4_0003\.jpg'):
        OccludedDuke(root, split='query')
    with pytest.raises(FileNotFoundError, match=r'Occluded_Duke'):
        OccludedDuke(str(tmp_path / 'nothing'))
