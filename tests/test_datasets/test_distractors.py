"""ReIDDistractors and the Market-1501 + 500k distractors protocol."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import ConcatDataset
from reid_fakes import MARKET_FILES, make_folder_layout, write_image

from mmpha.evaluation import ReIDMetric
from mmpha.registry import DATASETS
from mmpha.utils import register_all_modules

CONFIG = ('configs/pha/pha_vit-base-p16-s12_in1k-pre_1xb48-12x4_120e_'
          'market1501-500k-256x128.py')


@pytest.fixture
def market_root(tmp_path) -> str:
    root = make_folder_layout(str(tmp_path / 'market1501'), MARKET_FILES)
    # The distractors: Market-style names (camera read off them), another
    # naming (camera 1), a sub-folder, and a file that is not an image.
    for i, name in enumerate([
            '0000_c3s1_000001_00.jpg', 'bg_000002.jpg',
            'part2/0000_c6s2_000003_01.jpg'
    ]):
        write_image(osp.join(root, 'distractors_500k', name), value=500 + i)
    open(osp.join(root, 'distractors_500k', 'README.txt'), 'w').close()
    return root


def test_distractors_are_a_never_matching_gallery(market_root):
    register_all_modules()
    ds = DATASETS.build(dict(type='ReIDDistractors', data_root=market_root))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [osp.relpath(d['img_path'], market_root) for d in infos] == [
        'distractors_500k/0000_c3s1_000001_00.jpg',
        'distractors_500k/bg_000002.jpg',
        'distractors_500k/part2/0000_c6s2_000003_01.jpg'
    ]
    assert [d['gt_label'] for d in infos] == [-1, -1, -1]
    assert [d['cam_id'] for d in infos] == [2, 0, 5]
    assert not any(d['is_query'] for d in infos)


def test_bad_distractor_options(market_root, tmp_path):
    register_all_modules()
    with pytest.raises(FileNotFoundError, match='distractors_500k'):
        DATASETS.build(
            dict(type='ReIDDistractors', data_root=str(tmp_path / 'none')))
    with pytest.raises(ValueError, match='camera 6 .* out of the valid'):
        DATASETS.build(
            dict(type='ReIDDistractors', data_root=market_root, num_cameras=5))
    with pytest.raises(TypeError, match='distractor_pid must be an int'):
        DATASETS.build(
            dict(
                type='ReIDDistractors',
                data_root=market_root,
                distractor_pid='-1'))


def test_protocol_config_on_a_fake_tree(market_root):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    data_cfg = cfg.test_dataloader.dataset
    for sub in data_cfg.datasets:
        sub.data_root = market_root
        sub.pipeline = []
    dataset = DATASETS.build(data_cfg)
    assert isinstance(dataset, ConcatDataset)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    # 2 queries, the 4 gallery images kept (junk -1 dropped, sorted by
    # name: the two Market distractors of id 0 first), then the 3
    # distractors of the 500k folder.
    assert [d['is_query'] for d in infos] == [True] * 2 + [False] * 7
    assert [d['gt_label'] for d in infos] == [2, 7, 0, 0, 2, 7, -1, -1, -1]
    assert cfg.test_evaluator == dict(type='ReIDMetric', mode='exact_chunked')

    # Each query's positive is its second-nearest image once the
    # distractors are in: one distractor is closer, so AP = R2 = 1/2 each.
    feats = torch.zeros(9, 4)
    feats[0, 0] = feats[4, 0] = 1  # query id 2 and its gallery match
    feats[1, 1] = feats[5, 1] = 1  # query id 7 and its gallery match
    feats[4, 2] = feats[5, 2] = 0.5  # the matches move a little away
    feats[6, 0] = feats[7, 1] = 1  # two distractors sit on the queries
    feats[2:4, 3] = feats[8, 3] = 1
    results = [
        dict(
            feature=feats[i],
            pid=d['gt_label'],
            camid=d['cam_id'],
            is_query=d['is_query']) for i, d in enumerate(infos)
    ]
    metric = ReIDMetric(ranks=(1, 2), max_rank=2, mode='exact_chunked')
    out = metric.compute_metrics(results)
    assert out == pytest.approx(dict(mAP=50.0, mINP=50.0, R1=0.0, R2=100.0))
    # Without the distractors the matches are first.
    out = metric.compute_metrics(results[:6])
    assert out == pytest.approx(
        dict(mAP=100.0, mINP=100.0, R1=100.0, R2=100.0))
