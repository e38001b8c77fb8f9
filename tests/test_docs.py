"""The documentation builds with Sphinx without a single warning."""
import os.path as osp
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_sphinx_build_without_warnings(repo_root, tmp_path):
    pytest.importorskip('sphinx')
    pytest.importorskip('myst_parser')
    out = tmp_path / 'html'
    cmd = [
        sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b',
        'html', '-d',
        str(tmp_path / 'doctrees'),
        osp.join(repo_root, 'docs', 'en'),
        str(out)
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    log = result.stdout[-3000:] + result.stderr[-5000:]
    assert result.returncode == 0, log
    for page in ('index', 'api', 'model_zoo', 'changelog',
                 'user_guides/analysis_tools', 'user_guides/deployment'):
        assert (out / f'{page}.html').is_file(), page
    api = (out / 'api.html').read_text()
    # The API pages come from the docstrings.
    for name in ('mmpha.apis.init_model', 'mmpha.apis.search',
                 'mmpha.visualization.draw_rank_grid'):
        assert f'id="{name}"' in api, name
