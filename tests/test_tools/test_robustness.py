"""tools/analysis_tools/robustness.py: its CSV numbers are those of
tools/test.py run on a config whose test pipeline holds the corruption."""
import csv
import os.path as osp

import matplotlib.image as mpimg
import pytest
import torch
from _tiny_reid import run_tool
from mmengine.config import Config

TOOL = 'tools/analysis_tools/robustness.py'


def _read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _test_tool_run(repo_root, monkeypatch, tmp_path, cfg_path, ckpt,
                   corruption, tag):
    """tools/test.py on a copy of the config with ``corruption`` written
    into both test pipelines by hand (None: the clean config)."""
    cfg = Config.fromfile(cfg_path)
    if corruption is not None:
        for child in cfg.test_dataloader.dataset.datasets:
            assert child.pipeline[0].type == 'LoadReIDImage'
            child.pipeline.insert(1, dict(corruption))
    path = str(tmp_path / f'{tag}.py')
    cfg.dump(path)
    out = tmp_path / f'{tag}.pth'
    run_tool(repo_root, 'tools/test.py', [
        path, ckpt, '--work-dir',
        str(tmp_path / f'work_{tag}'), '--out', out
    ], monkeypatch)
    return torch.load(out, weights_only=True)


def _with_dump(cfg_path, out_path, dump):
    """A copy of a config whose evaluator also dumps the features."""
    cfg = Config.fromfile(cfg_path)
    cfg.test_evaluator = [
        dict(cfg.test_evaluator),
        dict(type='DumpReIDResults', out_file_path=str(dump))
    ]
    cfg.dump(str(out_path))
    return str(out_path)


def _assert_same(row, dump, ref):
    assert float(row['mAP']) == pytest.approx(ref['metrics']['mAP'], abs=1e-4)
    assert float(row['R1']) == pytest.approx(ref['metrics']['R1'], abs=1e-4)
    for key in ('query_feats', 'gallery_feats'):
        torch.testing.assert_close(dump[key], ref[key])


@pytest.mark.parametrize('gallery', [False, True])
def test_csv_matches_test_tool(gallery, repo_root, tiny_files, tmp_path,
                               monkeypatch):
    """The last evaluation of the tool dumps its features: they and the CSV
    metrics equal those of tools/test.py on a config with the corruption
    written into its test pipelines by hand."""
    out_dir = tmp_path / 'rob'
    dump = tmp_path / 'last.pth'
    pha_cfg = _with_dump(tiny_files['pha_cfg'], tmp_path / 'pha_dump.py', dump)
    if gallery:
        name, corruption = 'noise', dict(
            type='GaussianNoiseCorruption', severity=2, apply_to='all')
        models = [pha_cfg, tiny_files['pha_ckpt']]
        labels = ['P']
    else:
        name, corruption = 'wavelet_hf', dict(
            type='WaveletHFRemoval', severity=2)
        models = [
            tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'], pha_cfg,
            tiny_files['pha_ckpt']
        ]
        labels = ['T', 'P']
    args = models + [
        '--corruptions', name, '--severities', 2, '--labels', *labels, '--out',
        out_dir
    ] + (['--gallery'] if gallery else [])
    run_tool(repo_root, TOOL, args, monkeypatch)
    rows = _read_csv(out_dir / 'robustness.csv')
    assert list(rows[0]) == ['model', 'corruption', 'severity', 'mAP', 'R1']
    assert [(r['model'], r['corruption'], r['severity']) for r in rows] == [
        (m, c, s) for m in labels for c, s in (('clean', '0'), (name, '2'))
    ]
    img = mpimg.imread(str(out_dir / 'robustness.png'))
    assert img.shape[0] > 100 and img.shape[1] > 100

    ref = _test_tool_run(repo_root, monkeypatch, tmp_path,
                         tiny_files['pha_cfg'], tiny_files['pha_ckpt'],
                         corruption, 'corrupted')
    _assert_same(rows[-1], torch.load(dump, weights_only=True), ref)
    clean = _test_tool_run(repo_root, monkeypatch, tmp_path,
                           tiny_files['pha_cfg'], tiny_files['pha_ckpt'], None,
                           'clean')
    assert float(rows[-2]['mAP']) == pytest.approx(
        clean['metrics']['mAP'], abs=1e-4)
    # The corruption reached the images it should: the queries always, the
    # gallery only with --gallery.
    assert not torch.allclose(ref['query_feats'], clean['query_feats'])
    assert torch.equal(ref['gallery_feats'], clean['gallery_feats']) != gallery


def test_bad_arguments(repo_root, tiny_files, tmp_path, monkeypatch, capsys):
    cfg, ckpt = tiny_files['transreid_cfg'], tiny_files['transreid_ckpt']
    for args, message in (
        ([cfg], 'CONFIG CKPT pairs'),
        ([cfg, ckpt, '--severities', 6], 'severities'),
        ([cfg, ckpt, '--labels', 'a', 'b'], '--labels'),
        ([cfg, ckpt, '--corruptions', 'fog'], 'invalid choice'),
    ):
        with pytest.raises(SystemExit):
            run_tool(repo_root, TOOL, args, monkeypatch)
        assert message in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        run_tool(repo_root, TOOL,
                 [cfg, osp.join(str(tmp_path), 'missing.pth')], monkeypatch)
