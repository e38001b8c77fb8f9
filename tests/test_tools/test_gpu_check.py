"""tools/misc/gpu_check.sh: valid shell, help text, argument errors.

The full check (or its ``--dry-run``, a few CPU minutes) is run by hand;
here only what takes no time.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest


def _script(repo_root):
    return osp.join(repo_root, 'tools', 'misc', 'gpu_check.sh')


def test_script_parses(repo_root):
    proc = subprocess.run(['bash', '-n', _script(repo_root)],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_lists_the_steps(repo_root):
    proc = subprocess.run(['bash', _script(repo_root), '--help'],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0
    for text in ('pip install -e ".[tests]"', 'pytest -m cuda',
                 'benchmark_train.py', 'benchmark_inference.py', '--dry-run',
                 'gpu_check_results.txt'):
        assert text in proc.stdout, text


def test_unknown_option_fails(repo_root, tmp_path):
    proc = subprocess.run(
        ['bash', _script(repo_root), '--fast', '--out',
         str(tmp_path)],
        capture_output=True,
        text=True)
    assert proc.returncode == 2
    assert 'unknown option: --fast' in proc.stderr
    assert not (tmp_path / 'gpu_check_results.txt').exists()


@pytest.mark.slow
def test_dry_run_speed_matrix_writes_every_figure(repo_root, tmp_path):
    # The speed step of --dry-run (tiny configs, fp32 on the CPU), compile
    # off only to stay short; the GPU run adds fp16 / bf16 and compile on.
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run([
        'bash',
        _script(repo_root), '--dry-run', '--speed-only', '--speed-compile',
        'off', '--out',
        str(tmp_path)
    ],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=repo_root)
    results = (tmp_path / 'gpu_check_results.txt').read_text()
    assert proc.returncode == 0, results + proc.stderr[-2000:]
    assert 'status: PASS' in results
    for name in ('TransReID', 'PHA'):
        line, = [
            ln for ln in results.splitlines()
            if ln.startswith(f'[speed fp32 compile off] {name}: ')
        ]
        assert re.search(
            r'[\d.]+ steps/s, [\d.]+ images/s \(batch 8, '
            r'128x64', line), line
        shares, = [
            ln for ln in results.splitlines()
            if ln.startswith(f'[speed fp32 compile off] {name} stage shares')
        ]
        for stage in ('backbone forward', 'backbone backward',
                      'optimiser step'):
            assert stage in shares, shares
    assert 'frequency' in [
        ln for ln in results.splitlines() if 'PHA stage shares' in ln
    ][0]
    assert (tmp_path / 'speed_fp32_compile-off.json').is_file()
