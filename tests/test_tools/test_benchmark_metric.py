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
