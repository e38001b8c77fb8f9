"""DukeMTMC-reID layout."""
import pytest
from reid_fakes import DUKE_FILES, make_folder_layout

from mmpha.datasets import DukeMTMC


def test_splits(tmp_path):
    root = make_folder_layout(str(tmp_path), DUKE_FILES)
    train = DukeMTMC(root, split='train')
    assert len(train) == 3
    assert [train.get_data_info(i)['gt_label'] for i in range(3)] == [0, 0, 1]
    assert [train.get_data_info(i)['cam_id'] for i in range(3)] == [1, 7, 0]
    assert train.metainfo['num_classes'] == 2
    assert train.metainfo['num_cameras'] == 8
    gallery = DukeMTMC(root, split='gallery')
    # Large raw ids stay as they are in the gallery.
    assert [gallery.get_data_info(i)['gt_label']
            for i in range(2)] == [3, 7140]
    assert len(DukeMTMC(root, split='query')) == 1


def test_camera_out_of_range(tmp_path):
    root = make_folder_layout(str(tmp_path), dict(query=['0001_c9_f1.jpg']))
    with pytest.raises(
            ValueError,
            match=r'camera 9 of .*0001_c9_f1\.jpg .*range \[1, 8\]'):
        DukeMTMC(root, split='query')


def test_missing_root_names_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match='0001_c2_f0046182.jpg'):
        DukeMTMC(str(tmp_path / 'duke'))
