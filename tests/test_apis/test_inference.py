import glob
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from _tiny_reid import NUM_QUERY
from mmengine.config import Config

from mmpha.apis import (build_query_dataset, build_test_pipeline,
                        extract_features, init_model)


@pytest.fixture(scope='module')
def model(tiny_files):
    return init_model(tiny_files['transreid_cfg'],
                      tiny_files['transreid_ckpt'])


@pytest.fixture(scope='module')
def query_paths(tiny_data_root):
    return sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))


def test_init_model_loads_checkpoint(tiny_files, model):
    saved = torch.load(tiny_files['transreid_ckpt'])['state_dict']
    state = model.state_dict()
    assert set(saved) == set(state)
    for key, value in saved.items():
        assert torch.equal(state[key], value), key
    assert not model.training
    assert isinstance(model.cfg, Config)
    assert model.backbone.num_layers == 2


def test_init_model_accepts_config_and_options(tiny_files):
    cfg = Config.fromfile(tiny_files['transreid_cfg'])
    model = init_model(cfg, cfg_options={'model.backbone.arch.embed_dims': 16})
    assert model.backbone.embed_dims == 16
    # The caller's config is not modified.
    assert cfg.model.backbone.arch.embed_dims == 32
    with pytest.raises(TypeError, match='config must be a file path'):
        init_model(dict(cfg))


def test_init_model_without_checkpoint_drops_pretrained(tiny_files):
    cfg = Config.fromfile(tiny_files['transreid_cfg'])
    kept = dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    cfg.model.backbone.init_cfg = [
        kept, dict(type='Pretrained', checkpoint='missing_weights.pth')
    ]
    model = init_model(cfg)
    assert model.backbone.init_cfg == [kept]
    # init_weights ran: SIE embeddings are no longer all zero.
    assert model.backbone.sie_embed.abs().sum() > 0


def test_features_from_paths_arrays_and_dataset_agree(model, query_paths):
    assert len(query_paths) == NUM_QUERY
    dataset = build_query_dataset(model.cfg)
    cams = [dataset.get_data_info(i)['cam_id'] for i in range(len(dataset))]
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    from_ds = extract_features(model, dataset, batch_size=3, progress=False)
    assert from_ds.shape == (NUM_QUERY, model.feat_dim)
    from_paths = extract_features(
        model, paths, batch_size=5, cam_ids=cams, progress=False)
    torch.testing.assert_close(from_paths, from_ds)
    arrays = [mmcv.imread(p) for p in paths]
    from_arrays = extract_features(model, arrays, cam_ids=cams, progress=False)
    torch.testing.assert_close(from_arrays, from_ds, atol=1e-5, rtol=0)


def test_features_match_the_predict_path(model, query_paths):
    feats = extract_features(model, query_paths[:2], progress=False)
    pipeline = build_test_pipeline(model.cfg)
    packed = [
        pipeline(dict(img_path=p, gt_label=0, cam_id=0))
        for p in query_paths[:2]
    ]
    data = model.data_preprocessor(
        dict(
            inputs=[p['inputs'] for p in packed],
            data_samples=[p['data_samples'] for p in packed]))
    with torch.no_grad():
        expected = model(data['inputs'], data['data_samples'], mode='tensor')
    torch.testing.assert_close(feats, expected)


def test_cam_ids_and_flip_change_features(model, query_paths):
    base = extract_features(model, query_paths[:2], progress=False)
    other_cam = extract_features(
        model, query_paths[:2], cam_ids=[1, 1], progress=False)
    assert (base - other_cam).abs().max() > 1e-4
    flipped = extract_features(
        model, query_paths[:2], flip=True, progress=False)
    mirrored = extract_features(
        model, [mmcv.imread(p)[:, ::-1].copy() for p in query_paths[:2]],
        progress=False)
    torch.testing.assert_close(
        flipped, (base + mirrored) / 2, atol=1e-5, rtol=0)


def test_extract_features_progress_bar(model, query_paths, capsys):
    extract_features(model, query_paths[:3], batch_size=2, progress=True)
    assert '3/3' in capsys.readouterr().out


def test_extract_features_bad_input(model, query_paths, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        extract_features(model, [str(tmp_path / 'nope.jpg')])
    with pytest.raises(TypeError, match='not a mix'):
        extract_features(model, [query_paths[0], np.zeros((4, 4, 3))])
    with pytest.raises(TypeError, match=r'images\[0\] must be an HxWx3 uint8'):
        extract_features(model, [np.zeros((4, 4, 3), dtype=np.float32)])
    with pytest.raises(ValueError, match='cam_ids has 1 entries but 2'):
        extract_features(model, query_paths[:2], cam_ids=[0])
    with pytest.raises(ValueError, match='batch_size must be a positive'):
        extract_features(model, query_paths[:2], batch_size=0)
    with pytest.raises(TypeError, match='images must be a list of paths'):
        extract_features(model, query_paths[0])
