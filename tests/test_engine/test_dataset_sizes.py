"""num_classes / camera_num / view_num = 'auto', read from the train set."""
import copy

import pytest
from test_datasets.reid_fakes import MARKET_FILES, make_folder_layout

from mmpha.engine import fill_auto_sizes, find_auto_sizes, resolve_auto_sizes

MODEL = dict(
    backbone=dict(type='B', camera_num='auto', view_num='auto'),
    heads=[dict(num_classes=5), dict(num_classes='auto')],
    head=dict(num_classes='auto', loss=dict(num_classes='auto')))


def test_find_names_every_auto_key():
    assert find_auto_sizes(MODEL) == [
        ('model.backbone.camera_num', 'camera_num'),
        ('model.backbone.view_num', 'view_num'),
        ('model.heads[1].num_classes', 'num_classes'),
        ('model.head.num_classes', 'num_classes'),
        ('model.head.loss.num_classes', 'num_classes'),
    ]
    assert find_auto_sizes(dict(head=dict(num_classes=3))) == []


@pytest.mark.parametrize('views,view_num', [(1, 0), (3, 3)])
def test_resolve_reads_the_meta(views, view_num):
    model = copy.deepcopy(MODEL)
    filled = resolve_auto_sizes(
        model, dict(num_classes=12, num_cameras=7, num_views=views))
    assert model['backbone'] == dict(type='B', camera_num=7, view_num=view_num)
    assert model['heads'] == [dict(num_classes=5), dict(num_classes=12)]
    assert model['head'] == dict(num_classes=12, loss=dict(num_classes=12))
    assert filled['model.backbone.camera_num'] == 7
    assert len(filled) == 5


def test_resolve_refuses_missing_or_bad_meta():
    with pytest.raises(KeyError, match='"num_cameras", which it lacks'):
        resolve_auto_sizes(
            dict(b=dict(camera_num='auto')), dict(num_classes=3))
    with pytest.raises(
            ValueError, match=r"num_classes=0 cannot size "
            r'model.h.num_classes'):
        resolve_auto_sizes(
            dict(h=dict(num_classes='auto')), dict(num_classes=0))


def test_fill_from_a_train_set(tmp_path):
    root = make_folder_layout(str(tmp_path / 'market'), MARKET_FILES)
    loader = dict(
        batch_size=4, dataset=dict(type='Market1501', data_root=root))
    model = dict(
        backbone=dict(camera_num='auto'), head=dict(num_classes='auto'))
    copy_of_model = copy.deepcopy(model)
    filled, dataset = fill_auto_sizes(model, loader, (copy_of_model, ))
    # 3 training ids (2, 7, 10) and Market's 6 cameras.
    assert model == dict(backbone=dict(camera_num=6), head=dict(num_classes=3))
    assert copy_of_model == model
    assert filled == {
        'model.backbone.camera_num': 6,
        'model.head.num_classes': 3
    }
    assert len(dataset) == 4 and dataset.split == 'train'
    # The loader config is left as it was.
    assert loader['dataset']['type'] == 'Market1501'


def test_fill_without_auto_builds_nothing():
    assert fill_auto_sizes(
        dict(head=dict(num_classes=3)),
        dict(dataset=dict(type='Market1501', data_root='/nowhere'))) == ({},
                                                                         None)


def test_fill_needs_a_loadable_train_set(tmp_path):
    model = dict(head=dict(num_classes='auto'))
    with pytest.raises(ValueError, match='no train_dataloader.dataset'):
        fill_auto_sizes(copy.deepcopy(model), None)
    missing = str(tmp_path / 'missing')
    with pytest.raises(
            FileNotFoundError,
            match=r"model.head.num_classes = 'auto' is read from the train "
            r'set, which could not be loaded: .*missing.*state'):
        fill_auto_sizes(
            copy.deepcopy(model),
            dict(dataset=dict(type='Market1501', data_root=missing)))


def test_fill_builds_in_the_config_scope(tmp_path):
    """The runner fills the sizes before it sets the default scope, so the
    train set (and its pipeline) is built in the config's scope."""
    from mmengine.registry import DefaultScope
    root = make_folder_layout(str(tmp_path / 'market'), MARKET_FILES)
    loader = dict(
        dataset=dict(
            type='CombinedReIDDataset',
            datasets=[dict(type='Market1501', data_root=root)],
            pipeline=[dict(type='LoadReIDImage')]))
    with DefaultScope.overwrite_default_scope('mmengine'):
        filled, _ = fill_auto_sizes(
            dict(head=dict(num_classes='auto')), loader, default_scope='mmpha')
        assert filled == {'model.head.num_classes': 3}
        with pytest.raises(KeyError, match='not in the mmengine::'):
            fill_auto_sizes(dict(head=dict(num_classes='auto')), loader)
