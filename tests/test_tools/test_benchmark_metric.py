import importlib.util
import os.path as osp
import re

import numpy as np
import pytest

TOOL = osp.join('tools', 'analysis_tools', 'benchmark_metric.py')


@pytest.fixture(scope='module')
def tool(repo_root):
    spec = importlib.util.spec_from_file_location('_benchmark_metric',
                                                  osp.join(repo_root, TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parse(text):
    ratio = re.search(r'^speed-up: ([0-9.]+)x$', text, re.M)
    diffs = dict(
        re.findall(r'^max abs diff (mAP|CMC|mINP): (\S+)$', text, re.M))
    times = re.findall(r': ([0-9.]+) s', text)
    return ratio, {k: float(v) for k, v in diffs.items()}, times


@pytest.mark.parametrize('extra', [[], ['--decimals', '2']])
def test_benchmark_prints_times_ratio_and_diffs(tool, capsys, extra):
    out = tool.main([
        '--num-query', '40', '--num-gallery', '300', '--num-ids', '25',
        '--num-cams', '3', '--repeat', '1', '--max-rank', '20', *extra
    ])
    text = capsys.readouterr().out
    ratio, diffs, times = _parse(text)
    assert '40 queries x 300 gallery images, 25 ids, 3 cameras' in text
    assert ratio is not None, text
    assert float(ratio.group(1)) == pytest.approx(
        out['ref_time'] / out['time'], rel=0.05, abs=0.05)
    assert len(times) == 2, text
    assert set(diffs) == {'mAP', 'CMC', 'mINP'}, text
    for name, diff in diffs.items():
        assert diff < 1e-6, (name, diff)
    # The comparison is not vacuous: real, non-trivial metrics.
    assert 0.05 < out['expected']['mAP'] < 1
    assert out['result']['CMC'].shape == (20, )


def test_reference_loop_on_hand_computed_case(tool):
    # The case of tests/test_evaluation/test_reid_metric.py: mAP 0.325,
    # mINP 0.3, CMC [0, .5, .5, .5, 1, 1, ...] with one skipped query.
    out = tool._reference(
        np.array([[0.1, 0.2, 0.3, 0.3, 0.5,
                   0.3], [0.4, 0.4, 0.4, 0.4, 0.0, 0.9],
                  [0.5, 0.1, 0.2, 0.3, 0.4, 0.6]]),
        np.array([1, 2, 3]),
        np.array([1, 0, 1, 2, 1, 3]),
        np.array([0, 0, 0]),
        np.array([0, 1, 1, 1, 2, 0]),
        max_rank=8)
    assert out['mAP'] == pytest.approx(0.325)
    assert out['mINP'] == pytest.approx(0.3)
    np.testing.assert_allclose(out['CMC'], [0, .5, .5, .5, 1, 1, 1, 1])


def test_invalid_sizes_are_rejected(tool, capsys):
    with pytest.raises(SystemExit):
        tool.main(['--num-gallery', '0'])
    assert '--num-gallery must be >= 1, got 0' in capsys.readouterr().err


_FAKE_FASTREID = '''
import numpy as np

CALLS = []


def evaluate_cy(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """fast-reid's return convention: CMC over the valid queries, per-query
    AP and INP with 0 for the queries without a valid match."""
    CALLS.append(distmat.shape)
    num_q = distmat.shape[0]
    order = np.argsort(distmat, axis=1, kind='stable')
    all_ap, all_inp, cmcs = np.zeros(num_q), np.zeros(num_q), []
    for q in range(num_q):
        keep = ~((g_pids[order[q]] == q_pids[q]) &
                 (g_camids[order[q]] == q_camids[q]))
        hits = (g_pids[order[q]] == q_pids[q])[keep].astype(float)
        if not hits.any():
            continue
        cum = hits.cumsum()
        last = np.flatnonzero(hits)[-1]
        all_inp[q] = cum[last] / (last + 1)
        all_ap[q] = (cum / np.arange(1, len(hits) + 1) * hits).sum() / (
            hits.sum())
        cmcs.append(np.minimum(cum, 1)[:max_rank])
    return np.mean(cmcs, axis=0), all_ap, all_inp
'''


def test_fastreid_comparison_times_and_checks_the_same_matrix(
        tool, capsys, tmp_path, monkeypatch):
    # A stand-in with fast-reid's return convention: the tool must time it
    # on the benchmark's matrix, read its mAP / mINP over the valid queries
    # only, and find it identical to ours.
    (tmp_path / 'fake_rank_cy.py').write_text(_FAKE_FASTREID)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tool.main([
        '--num-query', '40', '--num-gallery', '300', '--num-ids', '60',
        '--num-cams', '3', '--repeat', '2', '--max-rank', '20', '--fastreid',
        'fake_rank_cy'
    ])
    text = capsys.readouterr().out
    import fake_rank_cy
    assert fake_rank_cy.CALLS == [(40, 300), (40, 300)]
    fr = out['fastreid']
    # With 60 ids over 300 images some queries have no valid match: a mean
    # over all queries would differ from ours.
    data = tool.make_rank_data(40, 300, 60, 3, 0)
    no_match = [
        not ((data['g_pids'] == p) & (data['g_camids'] != c)).any()
        for p, c in zip(data['q_pids'], data['q_camids'])
    ]
    assert any(no_match)
    ratio = re.search(r'^speed-up over fast-reid: ([0-9.]+)x$', text, re.M)
    assert ratio is not None, text
    assert float(ratio.group(1)) == pytest.approx(fr['ratio'], abs=0.05)
    assert fr['diffs']['mAP'] < 1e-6 and fr['diffs']['mINP'] < 1e-6
    assert fr['diffs']['CMC'] < 1e-6
    assert fr['result']['mAP'] == pytest.approx(out['result']['mAP'])


def test_fastreid_module_that_does_not_import_is_a_clear_error(tool):
    with pytest.raises(SystemExit, match="--fastreid 'no_such_fastreid'"):
        tool.main([
            '--num-query', '5', '--num-gallery', '30', '--num-ids', '5',
            '--repeat', '1', '--max-rank', '5', '--fastreid',
            'no_such_fastreid'
        ])
