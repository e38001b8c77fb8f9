"""VeRi-776: layout, view labels and their way to the backbone's SIE."""
import os
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from reid_fakes import VERI_FILES, VERI_VIEWS, keypoint_line, make_veri

from mmpha.datasets import VeRi776, veri
from mmpha.registry import DATASETS, MODELS

TINY_PIPELINE = [
    dict(type='LoadReIDImage'),
    dict(type='Resize', scale=(32, 32), interpolation='bicubic'),
    dict(type='PackReIDInputs'),
]


def _cam(name: str) -> int:
    return int(name.split('_')[1][1:]) - 1


def test_splits_cameras_and_views(tmp_path):
    root = make_veri(str(tmp_path / 'VeRi'))
    train = VeRi776(root, split='train')
    infos = [train.get_data_info(i) for i in range(len(train))]
    names = VERI_FILES['image_train']
    assert [osp.basename(d['img_path']) for d in infos] == names
    assert [d['gt_label'] for d in infos] == [0, 0, 1, 2]
    assert [d['cam_id'] for d in infos] == [0, 18, 19, 6]
    assert [d['view_id'] for d in infos] == [VERI_VIEWS[n] for n in names]
    assert train.metainfo['num_cameras'] == 20
    assert train.metainfo['num_views'] == 8
    for split, folder in (('query', 'image_query'), ('gallery', 'image_test')):
        data = DATASETS.build(dict(type='VeRi', data_root=root, split=split))
        infos = [data.get_data_info(i) for i in range(len(data))]
        assert [d['view_id']
                for d in infos] == [VERI_VIEWS[n] for n in VERI_FILES[folder]]
        assert [d['cam_id']
                for d in infos] == [_cam(n) for n in VERI_FILES[folder]]
        assert [d['gt_label']
                for d in infos] == [int(n[:4]) for n in VERI_FILES[folder]]
        assert all(d['is_query'] == (split == 'query') for d in infos)


def test_archive_parent_and_stray_files(tmp_path):
    root = make_veri(str(tmp_path / 'VeRi'))
    # The archive keeps lists and XML next to the folders; a Thumbs.db in
    # a folder is not an image.
    open(osp.join(root, 'image_train', 'Thumbs.db'), 'wb').close()
    open(osp.join(root, 'train_label.xml'), 'w').close()
    data = VeRi776(str(tmp_path), split='train')
    assert data.data_root == root and len(data) == 4


def test_view_file_location_is_a_config_key(tmp_path, monkeypatch):
    root = make_veri(str(tmp_path / 'VeRi'), views=False)
    other = tmp_path / 'TransReID' / 'datasets'
    other.mkdir(parents=True)
    names = VERI_FILES['image_query'] + VERI_FILES['image_test']
    # A line without folder prefix, with trailing white space.
    (other / 'keypoint_test.txt').write_text(''.join(
        keypoint_line('', n, 7 - VERI_VIEWS[n]) + '  \n' for n in names))
    (other / 'keypoint_train.txt').write_text('')
    data = VeRi776(
        root,
        split='gallery',
        view_file=dict(
            train=str(other / 'keypoint_train.txt'),
            test=str(other / 'keypoint_test.txt')))
    assert [data.get_data_info(i)['view_id'] for i in range(len(data))
            ] == [7 - VERI_VIEWS[n] for n in VERI_FILES['image_test']]
    # Without views: view 0 everywhere, one view.
    plain = VeRi776(root, split='gallery', view_file=None)
    assert {plain.get_data_info(i)['view_id'] for i in range(4)} == {0}
    assert plain.metainfo['num_views'] == 1
    # TransReID's placement: a folder with both files.
    data = VeRi776(root, split='query', keypoint_dir=str(other))
    assert [data.get_data_info(i)['view_id'] for i in range(len(data))
            ] == [7 - VERI_VIEWS[n] for n in VERI_FILES['image_query']]
    assert data.metainfo['num_views'] == 8
    # 'auto' (the default) without files in data_root: no views, a warning.
    logs = []
    monkeypatch.setattr(veri, 'print_log',
                        lambda msg, **kwargs: logs.append(msg))
    auto = VeRi776(root, split='gallery')
    assert {auto.get_data_info(i)['view_id'] for i in range(4)} == {0}
    assert auto.metainfo['num_views'] == 1
    assert any('no view file' in m and 'keypoint_dir' in m for m in logs)
    # An explicit file that does not exist is an error.
    with pytest.raises(FileNotFoundError, match=r'keypoint_test\.txt'):
        VeRi776(
            root,
            split='gallery',
            view_file=dict(
                train='keypoint_train.txt', test='keypoint_test.txt'))
    with pytest.raises(ValueError, match=r'view_file must be "auto", None'):
        VeRi776(root, view_file='keypoint_train.txt')
    with pytest.raises(ValueError, match=r'keypoint_dir .* goes with'):
        VeRi776(root, view_file=None, keypoint_dir=str(other))


def test_missing_view_names_the_image_and_the_files(tmp_path):
    root = make_veri(str(tmp_path / 'VeRi'))
    path = osp.join(root, 'keypoint_test.txt')
    lines = open(path).read().splitlines()
    with open(path, 'w') as f:
        f.write('\n'.join(x for x in lines if '0006_c004' not in x) + '\n')
    with pytest.raises(
            ValueError,
            match=r'image ".*image_test/0006_c004_00050000_0\.jpg" has no '
            r'view label in ".*keypoint_test\.txt" nor in '
            r'".*keypoint_train\.txt"'):
        VeRi776(root, split='gallery')
    data = VeRi776(root, split='gallery', missing_view='skip')
    assert len(data) == 3
    # An image listed in the other split's file is found there.
    with open(osp.join(root, 'keypoint_train.txt'), 'a') as f:
        f.write(keypoint_line('', '0006_c004_00050000_0.jpg', 6) + '\n')
    data = VeRi776(root, split='gallery')
    assert data.get_data_info(3)['view_id'] == 6
    os.remove(osp.join(root, 'keypoint_test.txt'))
    with pytest.raises(FileNotFoundError, match=r'keypoint_test\.txt'):
        VeRi776(root, split='query')


def test_bad_view_lines(tmp_path):
    root = make_veri(str(tmp_path / 'VeRi'))
    path = osp.join(root, 'keypoint_train.txt')
    with open(path, 'a') as f:
        f.write('0001_c001_00016450_0.jpg 1 2 front\n')
    with pytest.raises(
            ValueError,
            match=r'line 5 of the view file .*'
            r'keypoint_train\.txt.*integer view id last'):
        VeRi776(root)
    with open(path, 'w') as f:
        f.write(keypoint_line('', '0001_c001_00016450_0.jpg', 9) + '\n')
    with pytest.raises(
            ValueError,
            match=r'view 9 of .*0001_c001_00016450_0\.jpg.*'
            r'keypoint_train\.txt.*range \[0, 7\]'):
        VeRi776(root, missing_view='skip')


def test_camera_and_id_ranges(tmp_path):
    root = make_veri(str(tmp_path / 'VeRi'), views=False)
    open(osp.join(root, 'image_query', '0002_c021_00000001_0.jpg'),
         'wb').close()
    with pytest.raises(ValueError, match=r'camera 21 of .*range \[1, 20\]'):
        VeRi776(root, split='query', view_file=None)


def _sie_model(camera_num: int, view_num: int):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ReIDModel',
            data_preprocessor=dict(
                type='ReIDDataPreprocessor',
                mean=[127.5] * 3,
                std=[127.5] * 3,
                to_rgb=True),
            backbone=dict(
                type='TransReIDViT',
                arch=dict(
                    embed_dims=16,
                    num_layers=1,
                    num_heads=2,
                    feedforward_channels=32),
                img_size=(32, 32),
                patch_size=16,
                stride=16,
                camera_num=camera_num,
                view_num=view_num,
                sie_coef=3.0),
            head=dict(type='ReIDHead', num_classes=3)))
    model.init_weights()
    return model


@pytest.mark.parametrize('camera_num, view_num', [(20, 8), (20, 0), (0, 8)])
def test_views_reach_the_backbone_sie(tmp_path, camera_num, view_num):
    """Fake tree + view files -> batch -> the SIE rows the backbone adds."""
    root = make_veri(str(tmp_path / 'VeRi'))
    train = VeRi776(root, split='train', pipeline=TINY_PIPELINE)
    gallery = VeRi776(root, split='gallery', pipeline=TINY_PIPELINE)
    model = _sie_model(camera_num, view_num)
    backbone = model.backbone
    seen = []
    sie_index = backbone._sie_index

    def spy(*args, **kwargs):
        index = sie_index(*args, **kwargs)
        seen.append(index.tolist())
        return index

    backbone._sie_index = spy
    for data, mode in ((train, 'loss'), (gallery, 'predict')):
        names = [
            osp.basename(data.get_data_info(i)['img_path'])
            for i in range(len(data))
        ]
        cams = [_cam(n) for n in names]
        views = [VERI_VIEWS[n] for n in names]
        if camera_num and view_num:
            expected = [c * view_num + v for c, v in zip(cams, views)]
        else:
            expected = cams if camera_num else views
        model.train(mode == 'loss')
        batch = model.data_preprocessor(
            pseudo_collate([data[i] for i in range(len(data))]),
            training=mode == 'loss')
        assert [s.view_id for s in batch['data_samples']] == views
        seen.clear()
        with torch.set_grad_enabled(mode == 'loss'):
            out = model(**batch, mode=mode)
        assert seen and all(s == expected for s in seen), (seen, expected)
        if mode == 'predict':
            assert out[0].pred_feature.shape == (16, )
        # The tokens are the patch embedding + position + sie_coef times
        # the SIE row cam * view_num + view (TransReID's indexing).
        model.eval()
        x = batch['inputs']
        with torch.no_grad():
            tokens = backbone.embed(x,
                                    torch.tensor(cams) if camera_num else None,
                                    torch.tensor(views) if view_num else None)
            patches, _ = backbone.patch_embed(x)
            plain = torch.cat(
                [backbone.cls_token.expand(len(x), -1, -1), patches],
                dim=1) + backbone.pos_embed
            rows = backbone.sie_embed[torch.tensor(expected)][:, None]
        torch.testing.assert_close(tokens, plain + 3.0 * rows)


def test_duplicate_view_lines_keep_the_last(tmp_path, monkeypatch):
    root = make_veri(str(tmp_path / 'VeRi'))
    with open(osp.join(root, 'keypoint_train.txt'), 'a') as f:
        f.write(keypoint_line('', '0001_c019_00016500_1.jpg', 6) + '\n')
    logs = []
    monkeypatch.setattr(veri, 'print_log',
                        lambda msg, **kwargs: logs.append(msg))
    views = veri.read_view_file(osp.join(root, 'keypoint_train.txt'))
    assert views['0001_c019_00016500_1.jpg'] == 6
    assert views['0001_c001_00016450_0.jpg'] == VERI_VIEWS[
        '0001_c001_00016450_0.jpg']
    assert len(logs) == 1 and '0001_c019_00016500_1.jpg (line 5)' in logs[0]
