"""CombinedReIDDataset and ReIDTestSets on fake Market-1501 / MSMT17 trees."""
import os.path as osp
import re
from functools import partial

import numpy as np
import pytest
from mmengine.dataset import DefaultSampler
from reid_fakes import (MARKET_FILES, MSMT17_LISTS, make_folder_layout,
                        make_msmt17)

from mmpha.datasets import CombinedReIDDataset, PKBatchSampler, ReIDTestSets
from mmpha.registry import DATASETS


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('wrapped')
    return dict(
        market=make_folder_layout(str(base / 'market'), MARKET_FILES),
        msmt=make_msmt17(str(base / 'msmt')))


# Serialising a data list calls gc.collect(), slow in a process holding
# torch; only the first test keeps the default.
_combined = partial(CombinedReIDDataset, serialize_data=False)
_sets = partial(ReIDTestSets, serialize_data=False)


def _market(root):
    return dict(type='Market1501', data_root=root)


def _msmt(root):
    return dict(type='MSMT17', data_root=root)


def _market_records(folder):
    """(pid, 0-based camera, file name) of a fake Market folder, by hand,
    in file name order (the order the dataset lists them)."""
    out = []
    for name in sorted(MARKET_FILES[folder]):
        pid, cam = re.match(r'(-?\d+)_c(\d+)', name).groups()
        out.append((int(pid), int(cam) - 1, name))
    return out


def _msmt_records(*lists):
    out = []
    for key in lists:
        for line in MSMT17_LISTS[key]:
            path, pid = line.split()
            cam = int(osp.basename(path).split('_')[2]) - 1
            out.append((int(pid), cam, osp.basename(path)))
    return out


def _rows(ds):
    return [(ds.get_data_info(i)['gt_label'], ds.get_data_info(i)['cam_id'],
             osp.basename(ds.get_data_info(i)['img_path']))
            for i in range(len(ds))]


def test_combined_offsets_identities_and_cameras(roots):
    ds = CombinedReIDDataset(
        datasets=[_market(roots['market']),
                  _msmt(roots['msmt'])])
    market = _market_records('bounding_box_train')
    msmt = _msmt_records('list_train', 'list_val')
    m_label = {p: i for i, p in enumerate(sorted({p for p, _, _ in market}))}
    s_label = {p: i for i, p in enumerate(sorted({p for p, _, _ in msmt}))}
    # Market's 6 cameras come first, then MSMT17's 15.
    expected = [(m_label[p], c, n)
                for p, c, n in market] + [(len(m_label) + s_label[p], 6 + c, n)
                                          for p, c, n in msmt]
    assert _rows(ds) == expected
    meta = ds.metainfo
    assert meta['num_classes'] == len(m_label) + len(s_label) == 6
    assert meta['num_cameras'] == 6 + 15
    assert meta['num_images'] == len(expected)
    assert [(m['name'], m['label_offset'], m['cam_offset'])
            for m in meta['datasets']] == [('market1501', 0, 0),
                                           ('msmt17', 3, 6)]
    np.testing.assert_array_equal(ds.get_gt_labels(), [r[0] for r in expected])
    assert {ds.get_data_info(i)['dataset']
            for i in range(len(ds))} == {'market1501', 'msmt17'}
    summary = CombinedReIDDataset.summary(meta['datasets'])
    assert '  market1501 | train | 3 | 4 | 6 | 0 | 0' in summary
    assert '  msmt17 | train | 3 | 4 | 15 | 3 | 6' in summary
    assert '  total | | 6 | 8 | 21 | |' in summary


def test_combine_all_follows_the_fast_reid_convention(roots):
    ds = DATASETS.build(
        dict(
            type='CombinedReIDDataset',
            serialize_data=False,
            datasets=[_market(roots['market']),
                      _msmt(roots['msmt'])],
            combine_all=True))
    # Market: train ids first, then the test ids (query + gallery share
    # them); junk (-1) and distractors (0) are dropped.
    market_train = _market_records('bounding_box_train')
    market_test = [
        r for r in _market_records('query') +
        _market_records('bounding_box_test') if r[0] not in (-1, 0)
    ]
    # MSMT17: test pid 0 is another person than train pid 0.
    msmt_train = _msmt_records('list_train', 'list_val')
    msmt_test = _msmt_records('list_query', 'list_gallery')
    expected = []
    offset = 0
    for cam_offset, (train, test) in ((0, (market_train, market_test)),
                                      (6, (msmt_train, msmt_test))):
        keys = sorted({('a', p)
                       for p, _, _ in train}) + sorted({('b', p)
                                                        for p, _, _ in test})
        label = {k: offset + i for i, k in enumerate(keys)}
        expected += [(label[('a', p)], cam_offset + c, n) for p, c, n in train]
        expected += [(label[('b', p)], cam_offset + c, n) for p, c, n in test]
        offset += len(keys)
    assert sorted(_rows(ds)) == sorted(expected)
    assert ds.metainfo['num_classes'] == offset == 5 + 6
    assert sorted(set(ds.get_gt_labels().tolist())) == list(range(offset))
    market_meta = ds.metainfo['datasets'][0]
    assert market_meta['splits'] == ['train', 'query', 'gallery']
    assert market_meta['num_dropped_distractors'] == 2


def test_combine_all_per_dataset(roots):
    ds = _combined(
        datasets=[_market(roots['market']),
                  _msmt(roots['msmt'])],
        combine_all=[True, False])
    assert [m['splits'] for m in ds.metainfo['datasets']
            ] == [['train', 'query', 'gallery'], ['train']]
    assert ds.metainfo['num_classes'] == 5 + 3


def test_pk_batch_sampler_draws_p_ids_of_k_images(roots):
    ds = _combined(datasets=[_market(roots['market']), _msmt(roots['msmt'])])
    batches = list(
        PKBatchSampler(
            DefaultSampler(ds, shuffle=True, seed=3),
            batch_size=4,
            num_instances=2))
    labels = ds.get_gt_labels()
    assert len(batches) == int(np.ceil(len(ds) / 4))
    for batch in batches:
        ids = labels[batch]
        assert len(set(ids[:2])) == 1 and len(set(ids[2:])) == 1
        assert ids[0] != ids[2]


def test_repeated_types_get_numbered_names(roots):
    ds = _combined(
        datasets=[_market(roots['market']),
                  _market(roots['market'])])
    assert ds.names == ['market1501', 'market1501_2']
    # The same images twice are two sets of identities and cameras.
    assert ds.metainfo['num_classes'] == 6
    assert ds.metainfo['num_cameras'] == 12


def test_combined_bad_arguments(roots):
    with pytest.raises(TypeError, match='non-empty list of dataset configs'):
        _combined(datasets=[])
    with pytest.raises(TypeError, match=r'datasets\[0\] must be a dataset'):
        _combined(datasets=[dict(data_root='x')])
    with pytest.raises(TypeError, match='one bool per dataset'):
        _combined(
            datasets=[_market(roots['market'])], combine_all=[True, False])
    with pytest.raises(ValueError, match=r"\['a'\] repeat"):
        _combined(
            datasets=[_market(roots['market']),
                      _msmt(roots['msmt'])],
            names=['a', 'a'])
    missing = osp.join(roots['market'], 'nowhere')
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        _combined(datasets=[_market(missing)])


def test_test_sets_tag_every_sample(roots):
    ds = _sets(
        test_sets=dict(
            market1501=_market(roots['market']), msmt17=_msmt(roots['msmt'])))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    market_q = _market_records('query')
    market_g = [r for r in _market_records('bounding_box_test') if r[0] != -1]
    msmt_q = _msmt_records('list_query')
    msmt_g = _msmt_records('list_gallery')
    expected = ([('market1501', True, *r)
                 for r in market_q] + [('market1501', False, *r)
                                       for r in market_g] +
                [('msmt17', True, *r) for r in msmt_q] + [('msmt17', False, *r)
                                                          for r in msmt_g])
    assert [(d['test_set'], d['is_query'], d['gt_label'], d['cam_id'],
             osp.basename(d['img_path'])) for d in infos] == expected
    assert ds.metainfo['test_sets'] == ['market1501', 'msmt17']
    assert ds.metainfo['test_set_sizes']['market1501'] == dict(
        cam_offset=0,
        num_query=len(market_q),
        num_gallery=len(market_g),
        num_cameras=6)


def test_test_sets_camera_offsets(roots):
    sets = dict(
        market1501=_market(roots['market']), msmt17=_msmt(roots['msmt']))
    plain = _sets(test_sets=sets)
    for offsets, shift in (('cumulative', dict(market1501=0, msmt17=6)),
                           (dict(msmt17=40), dict(market1501=0, msmt17=40))):
        ds = _sets(test_sets=sets, cam_offsets=offsets)
        for i in range(len(ds)):
            info, ref = ds.get_data_info(i), plain.get_data_info(i)
            assert info['cam_id'] == ref['cam_id'] + shift[info['test_set']]
    with pytest.raises(ValueError, match=r"unknown names \['duke'\]"):
        _sets(test_sets=sets, cam_offsets=dict(duke=1))
    with pytest.raises(ValueError, match='cam_offsets must be None'):
        _sets(test_sets=sets, cam_offsets='sum')


def test_test_sets_explicit_pairs_and_bad_input(roots):
    market = _market(roots['market'])
    ds = _sets(test_sets=dict(m=dict(query=market, gallery=market)))
    assert ds.metainfo['test_set_sizes']['m']['num_query'] == 2
    with pytest.raises(ValueError, match='without "/"'):
        _sets(test_sets={'a/b': market})
    with pytest.raises(ValueError, match=r"got the keys \['query'\]"):
        _sets(test_sets=dict(m=dict(query=market)))
    with pytest.raises(TypeError, match='non-empty dict'):
        _sets(test_sets=[market])
