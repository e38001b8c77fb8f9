"""tools/misc/gpu_check.sh: valid shell, help text, argument errors.

The full check (or its ``--dry-run``, a few CPU minutes) is run by hand;
here only what takes no time.
"""
import os.path as osp
import subprocess


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
