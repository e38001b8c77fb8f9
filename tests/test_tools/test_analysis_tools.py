import csv
import glob
import os.path as osp
import re

import mmcv
import numpy as np
import pytest
import torch
from _tiny_reid import NUM_GALLERY, NUM_QUERY, TINY_LAYERS, run_tool

from mmpha.visualization import PanelLayout, RankGridLayout
from mmpha.visualization.rank_visualizer import (MATCH_COLOR, MISMATCH_COLOR,
                                                 PLACEHOLDER_GREY)


def _write(path, value, size=(32, 16)):
    mmcv.imwrite(np.full((*size, 3), value, dtype=np.uint8), str(path))
    return str(path)


@pytest.fixture
def hand_made_dump(tmp_path):
    """Two queries, four gallery images on a line; one gallery file absent.

    Query 0 (id 1, cam 0) sits at x=0; gallery x = 0.1 (id 1, cam 0: same
    camera, excluded by default), 0.2 (id 2), 0.3 (id 1, cam 1), 5 (id 3).
    """
    q_paths = [
        _write(tmp_path / 'q0.jpg', 10),
        _write(tmp_path / 'q1.jpg', 20)
    ]
    g_paths = [_write(tmp_path / f'g{i}.jpg', 50 * i)
               for i in range(3)] + [str(tmp_path / 'absent.jpg')]
    dump = dict(
        query_feats=torch.tensor([[0.], [5.]]),
        gallery_feats=torch.tensor([[0.1], [0.2], [0.3], [5.]]),
        q_pids=torch.tensor([1, 3]),
        g_pids=torch.tensor([1, 2, 1, 3]),
        q_camids=torch.tensor([0, 0]),
        g_camids=torch.tensor([0, 1, 1, 1]),
        q_img_paths=q_paths,
        g_img_paths=g_paths,
        metrics={'mAP': 1.0})
    path = str(tmp_path / 'results.pth')
    torch.save(dump, path)
    return path


def test_visualize_ranks(hand_made_dump, tmp_path, repo_root, monkeypatch):
    out_dir = tmp_path / 'ranks'
    run_tool(repo_root, 'tools/analysis_tools/visualize_ranks.py', [
        hand_made_dump, '--num-queries', 2, '--topk', 2, '--no-normalize',
        '--out-dir', out_dir
    ], monkeypatch)
    grid = mmcv.imread(str(out_dir / 'ranks.jpg'))
    layout = RankGridLayout()
    th, tw = layout.tile_size
    # 2 rows of query + 2 gallery tiles.
    assert grid.shape[:2] == (2 * layout.margin + 2 * th + layout.spacing,
                              2 * layout.margin + 3 * tw + 2 * layout.spacing +
                              layout.separator)

    def border(r, j):
        y = layout.margin + r * (th + layout.spacing) + 1
        x = (
            layout.margin + (j + 1) * (tw + layout.spacing) +
            layout.separator + 1)
        return grid[y, x].astype(int)

    # Query 0: gallery 0 (same camera) is skipped -> g1 (id 2, red), g2
    # (id 1, green). Query 1: g3 (absent file, id 3, green), then g2 (red).
    for (r, j), colour in {
        (0, 0): MISMATCH_COLOR,
        (0, 1): MATCH_COLOR,
        (1, 0): MATCH_COLOR,
        (1, 1): MISMATCH_COLOR
    }.items():
        assert np.abs(border(r, j) - colour).max() < 40, (r, j, border(r, j))
    b = layout.border
    y = layout.margin + th + layout.spacing + b + 20
    x = layout.margin + tw + layout.spacing + layout.separator + b + 20
    assert abs(int(grid[y, x, 0]) - PLACEHOLDER_GREY) < 10


def test_visualize_ranks_keep_same_camera(hand_made_dump, tmp_path, repo_root,
                                          monkeypatch):
    from mmpha.apis import load_dump, rank_dump
    dump = load_dump(hand_made_dump)
    ranked = rank_dump(
        dump, topk=3, normalize=False, exclude_same_camera=False)
    assert ranked.gallery_indices[0].tolist() == [0, 1, 2]
    assert ranked.matches[0].tolist() == [True, False, True]
    torch.testing.assert_close(ranked.dists[0], torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r'query indices \[7\] are out'):
        rank_dump(dump, query_indices=[7])
    bad = tmp_path / 'bad.pth'
    torch.save({'query_feats': torch.zeros(1, 1)}, str(bad))
    with pytest.raises(KeyError, match='lacks the keys.*gallery_feats'):
        load_dump(str(bad))


def _csv_rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def test_frequency_similarity(tiny_files, tmp_path, repo_root, monkeypatch,
                              capsys):
    out_dir = tmp_path / 'freq'
    # The PHA checkpoint loads into the TransReID config: same network.
    run_tool(repo_root, 'tools/analysis_tools/frequency_similarity.py', [
        tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'],
        tiny_files['pha_ckpt'], '--labels', 'TransReID', 'PHA', '--num-images',
        4, '--out-dir', out_dir
    ], monkeypatch)
    rows = _csv_rows(out_dir / 'frequency_similarity.csv')
    assert rows[0] == ['layer', 'TransReID', 'PHA']
    assert len(rows) - 1 == TINY_LAYERS
    assert [r[0] for r in rows[1:]] == [str(i + 1) for i in range(TINY_LAYERS)]
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.all(np.abs(values) <= 1)
    # Different weights give different curves.
    assert np.abs(values[:, 0] - values[:, 1]).max() > 1e-4
    png = mmcv.imread(str(out_dir / 'frequency_similarity.png'))
    # figsize (max(4, 0.5 * L + 2), 3.5) inches at 120 dpi.
    assert png.shape[:2] == (420, 480)
    out = capsys.readouterr().out
    assert 'TransReID: ' in out and '>] 4/4' in out


def test_visualize_frequency(tiny_files, tiny_data_root, tmp_path, repo_root,
                             monkeypatch):
    out = tmp_path / 'freq.jpg'
    run_tool(repo_root, 'tools/analysis_tools/visualize_frequency.py',
             [tiny_files['pha_cfg'], '--num', 3, '--out', out, '--diff'],
             monkeypatch)
    panel = mmcv.imread(str(out))
    # Input size of the tiny configs is 128x64; 5 columns with --diff.
    assert panel.shape[:2] == PanelLayout(tile_size=(128,
                                                     64)).canvas_size(3, 5)

    images = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))
    out2 = tmp_path / 'freq2.jpg'
    run_tool(repo_root, 'tools/analysis_tools/visualize_frequency.py', [
        tiny_files['transreid_cfg'], '--images', *images[:2], '--out', out2
    ], monkeypatch)
    assert mmcv.imread(str(out2)).shape[:2] == PanelLayout(
        tile_size=(128, 64)).canvas_size(2, 4)


def test_get_flops_same_for_transreid_and_pha(tiny_files, repo_root,
                                              monkeypatch, capsys):
    run_tool(repo_root, 'tools/analysis_tools/get_flops.py',
             [tiny_files['transreid_cfg'], tiny_files['pha_cfg']], monkeypatch)
    out = capsys.readouterr().out
    found = re.findall(
        r'(\w+)_tiny\.py: flops=(\d+) inference_params=(\d+) '
        r'total_params=(\d+)', out)
    assert [f[0] for f in found] == ['transreid', 'pha'], out
    (_, f1, p1, t1), (_, f2, p2, t2) = found
    assert f1 == f2 and p1 == p2
    assert int(f1) > 0 and int(t2) > int(t1)


def test_benchmark_inference_tool(tiny_files, repo_root, monkeypatch, capsys):
    run_tool(repo_root, 'tools/analysis_tools/benchmark_inference.py', [
        tiny_files['transreid_cfg'], '--batch-size', 2, '--iters', 2,
        '--device', 'cpu'
    ], monkeypatch)
    match = re.search(r'^images/s: ([0-9.]+)$', capsys.readouterr().out, re.M)
    assert match and float(match.group(1)) > 0


def test_image_search_demo(tiny_files, tiny_data_root, tmp_path, repo_root,
                           monkeypatch, capsys):
    query = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))[0]
    out = tmp_path / 'search.jpg'
    run_tool(repo_root, 'demo/image_search.py', [
        query,
        osp.join(tiny_data_root,
                 'bounding_box_test'), tiny_files['transreid_cfg'],
        tiny_files['transreid_ckpt'], '--topk', 20, '--out', out
    ], monkeypatch)
    # topk is clamped to the gallery size.
    assert mmcv.imread(str(out)).shape[:2] == RankGridLayout().canvas_size(
        1, NUM_GALLERY)
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if re.match(r'^\s+\d+\s+[0-9.]+\s+/', line)
    ]
    assert len(lines) == NUM_GALLERY
    dists = [float(line.split()[1]) for line in lines]
    assert dists == sorted(dists)


@pytest.mark.slow
def test_visualize_ranks_on_a_real_test_dump(tiny_files, tmp_path, repo_root,
                                             monkeypatch):
    import subprocess
    import sys
    dump = tmp_path / 'results.pth'
    cmd = [
        sys.executable,
        osp.join(repo_root, 'tools', 'test.py'), tiny_files['transreid_cfg'],
        tiny_files['transreid_ckpt'], '--out',
        str(dump), '--work-dir',
        str(tmp_path / 'work')
    ]
    subprocess.run(
        cmd, check=True, capture_output=True, cwd=repo_root, timeout=600)
    out_dir = tmp_path / 'ranks'
    run_tool(repo_root, 'tools/analysis_tools/visualize_ranks.py',
             [dump, '--num-queries', 3, '--topk', 4, '--out-dir', out_dir],
             monkeypatch)
    grid = mmcv.imread(str(out_dir / 'ranks.jpg'))
    assert grid.shape[:2] == RankGridLayout().canvas_size(3, 4)
    data = torch.load(str(dump), weights_only=True)
    assert data['query_feats'].shape[0] == NUM_QUERY
    assert data['gallery_feats'].shape[0] == NUM_GALLERY
    # The grid reads the stored paths: they exist, so no placeholder.
    assert all(
        osp.isfile(p) for p in data['q_img_paths'] + data['g_img_paths'])
