"""The visualisation tools of issue #16 on tiny models: attention overlays,
embedding plots, compared frequency curves and training-log analysis."""
import csv
import glob
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from _tiny_reid import (NUM_GALLERY, NUM_QUERY, TINY_LAYERS, TRANSREID_CFG,
                        run_tool, save_checkpoint, tiny_config)

from mmpha.visualization import PanelLayout

TINY_BOT_CFG = ('configs/bot/bot_r18-tiny_scratch_1xb32-8x4_16e_synthreid-'
                '128x64.py')


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def trained_run(repo_root, tiny_data_root, tmp_path_factory):
    """A tiny TransReID trained for 2 epochs (1 iteration each), logged
    every iteration and evaluated after each epoch."""
    work = tmp_path_factory.mktemp('trained')
    cfg = tiny_config(repo_root, TRANSREID_CFG, tiny_data_root,
                      str(work / 'work'))
    cfg.train_dataloader.batch_size = 8
    cfg.model.head.num_classes = 2
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, save_best=None)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    path = str(work / 'tiny_transreid.py')
    cfg.dump(path)
    monkeypatch = pytest.MonkeyPatch()
    try:
        run_tool(repo_root, 'tools/train.py', [path], monkeypatch)
    finally:
        monkeypatch.undo()
    logs = glob.glob(str(work / 'work' / '*' / 'vis_data' / 'scalars.json'))
    assert len(logs) == 1
    return dict(cfg=path, ckpt=str(work / 'work' / 'epoch_2.pth'), log=logs[0])


# -------------------------------------------------------------- attention
def test_vis_attention_on_a_vit(tiny_files, tiny_data_root, tmp_path,
                                repo_root, monkeypatch):
    from mmpha.apis import attention_maps, init_model, iter_batches
    images = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))[:2]
    out = tmp_path / 'attn'
    run_tool(repo_root, 'tools/visualizations/vis_attention.py', [
        tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'], *images,
        '--out', out
    ], monkeypatch)
    layout = PanelLayout(tile_size=(128, 64))
    stems = [osp.splitext(osp.basename(p))[0] for p in images]
    for i, stem in enumerate(stems):
        png = mmcv.imread(str(out / f'{i:03d}_{stem}.png'))
        # image, rollout, CLS attention
        assert png.shape[:2] == layout.canvas_size(1, 3)
    panel = mmcv.imread(str(out / 'attention_panel.png'))
    assert panel.shape[:2] == layout.canvas_size(2, 3)
    saved = np.load(str(out / 'attention_maps.npz'))
    assert sorted(saved.files) == ['cls', 'rollout']
    model = init_model(tiny_files['transreid_cfg'],
                       tiny_files['transreid_ckpt'])
    data = next(iter_batches(model, images, batch_size=2))
    ref = attention_maps(model, data['inputs'], ('rollout', 'cls'),
                         data['data_samples'])
    for name in ('rollout', 'cls'):
        assert saved[name].shape == (2, 128, 64)
        np.testing.assert_allclose(saved[name], ref[name], atol=1e-6)


def test_vis_attention_on_a_cnn_and_bad_input(tiny_data_root, tmp_path,
                                              repo_root, monkeypatch, capsys):
    from mmpha.apis import init_model
    cfg = tiny_config(repo_root, TINY_BOT_CFG, tiny_data_root,
                      str(tmp_path / 'work'))
    cfg_path = str(tmp_path / 'bot.py')
    cfg.dump(cfg_path)
    ckpt = save_checkpoint(init_model(cfg_path), str(tmp_path / 'bot.pth'))
    image = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))[0]
    out = tmp_path / 'attn'
    run_tool(repo_root, 'tools/visualizations/vis_attention.py',
             [cfg_path, ckpt, image, '--out', out, '--target', 'id_logit'],
             monkeypatch)
    saved = np.load(str(out / 'attention_maps.npz'))
    assert saved.files == ['gradcam']
    assert saved['gradcam'].shape == (1, 128, 64)
    assert saved['gradcam'].max() == pytest.approx(1.0)
    with pytest.raises(SystemExit) as exc:
        run_tool(repo_root, 'tools/visualizations/vis_attention.py',
                 [cfg_path, ckpt, image, '--out', out, '--method', 'rollout'],
                 monkeypatch)
    assert exc.value.code == 1
    assert 'need a ViT backbone' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_tool(repo_root, 'tools/visualizations/vis_attention.py',
                 [cfg_path, ckpt, 'absent.jpg', '--out', out], monkeypatch)
    assert 'image "absent.jpg" does not exist' in capsys.readouterr().err


# -------------------------------------------------------------- embedding
def _reference_pca(feats):
    """PCA by the eigenvectors of the covariance (not by an SVD)."""
    x = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    x = x - x.mean(0)
    _, vecs = np.linalg.eigh(x.T @ x)
    return x @ vecs[:, ::-1][:, :2]


def _assert_same_up_to_sign(coords, ref):
    for c in range(2):
        sign = np.sign(coords[:, c] @ ref[:, c]) or 1.0
        np.testing.assert_allclose(coords[:, c], sign * ref[:, c], atol=1e-5)


def test_vis_embedding_of_a_trained_checkpoint(trained_run, tmp_path,
                                               repo_root, monkeypatch):
    from mmpha.apis import build_query_dataset, extract_features, init_model
    out = tmp_path / 'emb'
    run_tool(repo_root, 'tools/analysis_tools/vis_embedding.py', [
        trained_run['cfg'], trained_run['ckpt'], '--method', 'pca',
        '--out-dir', out
    ], monkeypatch)
    rows = _rows(out / 'embedding.csv')
    assert list(rows[0]) == ['x', 'y', 'id', 'camera', 'split', 'path']
    assert [r['split']
            for r in rows] == ['query'] * NUM_QUERY + ['gallery'] * NUM_GALLERY
    assert mmcv.imread(str(out / 'embedding.png')).shape[:2] == (500, 600)

    model = init_model(trained_run['cfg'], trained_run['ckpt'])
    query = build_query_dataset(model.cfg)
    q_info = [query.get_data_info(i) for i in range(len(query))]
    assert [int(r['id'])
            for r in rows[:NUM_QUERY]] == [d['gt_label'] for d in q_info]
    assert [int(r['camera'])
            for r in rows[:NUM_QUERY]] == [d['cam_id'] for d in q_info]
    assert [r['path']
            for r in rows[:NUM_QUERY]] == [d['img_path'] for d in q_info]
    gallery_paths = [r['path'] for r in rows[NUM_QUERY:]]
    feats = extract_features(
        model, [r['path'] for r in rows[:NUM_QUERY]] + gallery_paths,
        cam_ids=[int(r['camera']) for r in rows],
        progress=False).numpy()
    coords = np.array([[float(r['x']), float(r['y'])] for r in rows])
    _assert_same_up_to_sign(coords, _reference_pca(feats.astype(np.float64)))


def test_vis_embedding_of_a_feature_dump(tmp_path, repo_root, monkeypatch,
                                         capsys):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(10, 6))
    dump = dict(
        query_feats=torch.tensor(feats[:4], dtype=torch.float32),
        gallery_feats=torch.tensor(feats[4:], dtype=torch.float32),
        q_pids=torch.tensor([3, 1, 2, 5]),
        g_pids=torch.tensor([1, 2, 3, 5, 1, 2]),
        q_camids=torch.tensor([0, 1, 0, 1]),
        g_camids=torch.tensor([1, 0, 1, 0, 2, 2]),
        q_img_paths=[f'q{i}.jpg' for i in range(4)],
        g_img_paths=[f'g{i}.jpg' for i in range(6)])
    path = str(tmp_path / 'results.pth')
    torch.save(dump, path)
    out = tmp_path / 'emb'
    run_tool(repo_root, 'tools/analysis_tools/vis_embedding.py', [
        '--features', path, '--method', 'pca', '--max-ids', 2, '--out-dir', out
    ], monkeypatch)
    rows = _rows(out / 'embedding.csv')
    # ids 1 and 2 only, query first, in dump order.
    keep = [1, 2, 4, 5, 8, 9]
    assert [r['path'] for r in rows
            ] == ['q1.jpg', 'q2.jpg', 'g0.jpg', 'g1.jpg', 'g4.jpg', 'g5.jpg']
    assert [int(r['id']) for r in rows] == [1, 2, 1, 2, 1, 2]
    assert [int(r['camera']) for r in rows] == [1, 0, 1, 0, 2, 2]
    coords = np.array([[float(r['x']), float(r['y'])] for r in rows])
    _assert_same_up_to_sign(coords,
                            _reference_pca(feats[keep].astype(np.float32)))
    assert osp.isfile(out / 'embedding.png')
    out2 = tmp_path / 'emb2'
    run_tool(repo_root, 'tools/analysis_tools/vis_embedding.py', [
        '--features', path, '--method', 'pca', '--exclude-ids', 1, 5,
        '--out-dir', out2
    ], monkeypatch)
    assert [int(r['id'])
            for r in _rows(out2 / 'embedding.csv')] == [3, 2, 2, 3, 2]
    with pytest.raises(SystemExit):
        run_tool(repo_root, 'tools/analysis_tools/vis_embedding.py', [
            '--features', path, '--exclude-ids', 1, 2, 3, 5, '--out-dir', out2
        ], monkeypatch)
    assert 'no identity is left' in capsys.readouterr().err

    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit) as exc:
            run_tool(repo_root, 'tools/analysis_tools/vis_embedding.py',
                     ['--features', path, '--method', 'tsne'], monkeypatch)
        assert exc.value.code == 1
        assert 't-SNE needs scikit-learn' in capsys.readouterr().err


# -------------------------------------------------------------- frequency
def test_frequency_similarity_of_two_configs(tiny_files, tmp_path, repo_root,
                                             monkeypatch):
    tool = 'tools/analysis_tools/frequency_similarity.py'
    one_cfg, two_cfg = tmp_path / 'one', tmp_path / 'two'
    run_tool(repo_root, tool, [
        tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'],
        tiny_files['pha_ckpt'], '--labels', 'TransReID', 'PHA', '--num-images',
        4, '--out-dir', one_cfg
    ], monkeypatch)
    run_tool(repo_root, tool, [
        tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'],
        tiny_files['pha_cfg'], tiny_files['pha_ckpt'], '--labels', 'TransReID',
        'PHA', '--num-images', 4, '--out-dir', two_cfg
    ], monkeypatch)
    long_rows = _rows(two_cfg / 'frequency_similarity_long.csv')
    assert list(long_rows[0]) == ['layer', 'model', 'value']
    assert [(r['layer'], r['model'])
            for r in long_rows] == [(str(layer), model)
                                    for model in ('TransReID', 'PHA')
                                    for layer in range(1, TINY_LAYERS + 1)]
    # The PHA network at inference is TransReID's: loaded into its own
    # config it gives the curve it gives in the TransReID config, and the
    # long CSV holds the wide CSV's numbers.
    wide = _rows(one_cfg / 'frequency_similarity.csv')
    for r in long_rows:
        assert float(r['value']) == pytest.approx(
            float(wide[int(r['layer']) - 1][r['model']]), abs=1e-6)
    assert osp.isfile(two_cfg / 'frequency_similarity.png')
    with pytest.raises(SystemExit):
        run_tool(repo_root, tool, [
            tiny_files['transreid_cfg'], tiny_files['pha_cfg'],
            tiny_files['pha_ckpt'], '--out-dir', tmp_path / 'bad'
        ], monkeypatch)


# -------------------------------------------------------------------- logs
def _hand_log(path):
    records = []
    it = 0
    for epoch, times in ((1, [1.0, 0.2, 0.4]), (2, [0.5, 0.3, 0.1])):
        for t in times:
            it += 1
            records.append(
                dict(
                    lr=0.1 / epoch,
                    loss=2.0 / it,
                    loss_cls=1.0 / it,
                    time=t,
                    epoch=epoch,
                    iter=it,
                    step=it))
        records.append(dict(mAP=10.0 * epoch, R1=20.0 * epoch, step=epoch))
    with open(path, 'w') as f:
        for r in records:
            f.write(json.dumps(r) + '\n')
        f.write('\n')
    return str(path)


def test_cal_train_time_of_a_hand_written_log(tmp_path, repo_root, monkeypatch,
                                              capsys):
    from mmpha.apis.log_analysis import load_json_log, train_time_stats
    path = _hand_log(tmp_path / 'hand.json')
    log = load_json_log(path)
    stats = train_time_stats(log)
    # The first record of each epoch is left out: (0.2 + 0.4 + 0.3 + 0.1)/4.
    assert stats['avg_iter_time'] == pytest.approx(0.25)
    assert stats['epochs'] == pytest.approx({1: 0.3, 2: 0.2})
    assert stats['slowest_epoch'] == (1, pytest.approx(0.3))
    assert stats['fastest_epoch'] == (2, pytest.approx(0.2))
    assert stats['std_over_epochs'] == pytest.approx(0.05)
    full = train_time_stats(log, include_outliers=True)
    assert full['avg_iter_time'] == pytest.approx(2.5 / 6)
    assert full['epochs'] == pytest.approx({1: 1.6 / 3, 2: 0.3})
    run_tool(repo_root, 'tools/analysis_tools/analyze_logs.py',
             ['cal_train_time', path], monkeypatch)
    out = capsys.readouterr().out
    assert 'average iter time: 0.2500 s/iter' in out
    assert 'slowest epoch 1, average time is 0.3000' in out
    assert 'fastest epoch 2, average time is 0.2000' in out
    assert 'time std over epochs is 0.0500' in out

    xs, ys = log.curve('mAP', 'iter')
    assert xs.tolist() == [3.0, 6.0] and ys.tolist() == [10.0, 20.0]
    xs, ys = log.curve('loss', 'epoch')
    assert xs.tolist() == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    assert log.default_keys() == ['loss', 'loss_cls', 'lr', 'mAP', 'R1']
    with pytest.raises(KeyError, match="has no key 'foo'"):
        log.curve('foo')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "iter": 1}\nnot json\n')
    with pytest.raises(ValueError, match='line 2: not a JSON object'):
        load_json_log(str(bad))


def test_plot_curve_of_real_and_hand_written_logs(trained_run, tmp_path,
                                                  repo_root, monkeypatch,
                                                  capsys):
    from mmpha.apis.log_analysis import load_json_log, train_time_stats
    hand = _hand_log(tmp_path / 'hand.json')
    out = tmp_path / 'curves.png'
    run_tool(repo_root, 'tools/analysis_tools/analyze_logs.py', [
        'plot_curve', trained_run['log'], hand, '--legend', 'tiny', 'hand',
        '--out', out
    ], monkeypatch)
    printed = capsys.readouterr().out
    # Every loss term of the real run, lr and the metrics; 6 panels in
    # 2 rows of 3 at 3.6 x 2.8 inches, 100 dpi.
    assert ('6 curves (loss, loss_cls, loss_triplet, lr, mAP, R1) of 2 '
            'run(s)') in printed
    assert mmcv.imread(str(out)).shape[:2] == (560, 1080)

    records = [json.loads(line) for line in open(trained_run['log'])]
    times = [r['time'] for r in records if 'iter' in r]
    # One record per epoch: each is kept, and the average is theirs.
    stats = train_time_stats(load_json_log(osp.dirname(trained_run['log'])))
    assert stats['avg_iter_time'] == pytest.approx(np.mean(times))
    assert stats['epochs'] == pytest.approx({1: times[0], 2: times[1]})
    with pytest.raises(SystemExit):
        run_tool(repo_root, 'tools/analysis_tools/analyze_logs.py',
                 ['plot_curve', hand, '--keys', 'mINP', '--out', out],
                 monkeypatch)


def test_an_iteration_based_log(tmp_path):
    from mmpha.apis.log_analysis import load_json_log, train_time_stats
    path = tmp_path / 'iters.json'
    lines = [
        dict(loss=1.0, lr=0.1, time=0.9, iter=10, step=10),
        dict(loss=0.5, lr=0.1, time=0.3, iter=20, step=20),
        dict(mAP=7.0, step=20),
        dict(loss=0.25, lr=0.01, time=0.5, iter=30, step=30),
    ]
    path.write_text(''.join(json.dumps(r) + '\n' for r in lines))
    log = load_json_log(str(path))
    assert not log.by_epoch
    xs, ys = log.curve('mAP')
    assert xs.tolist() == [20.0] and ys.tolist() == [7.0]
    with pytest.raises(ValueError, match='iteration-based run'):
        log.curve('loss', 'epoch')
    # No epochs: one group, its first record left out.
    stats = train_time_stats(log)
    assert stats['epochs'] == pytest.approx({0: 0.4})
    assert stats['avg_iter_time'] == pytest.approx(0.4)
    assert stats['std_over_epochs'] == 0.0
