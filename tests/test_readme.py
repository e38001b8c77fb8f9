"""The README's quick start and .ci/run stay in step."""
import os.path as osp
import re


def _read(repo_root, *parts):
    with open(osp.join(repo_root, *parts), encoding='utf-8') as f:
        return f.read()


def _quick_start_commands(repo_root):
    readme = _read(repo_root, 'README.md')
    section = readme.split('## Quick start', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```shell\n\s*(.+?)\n\s*```', section)


def test_quick_start_has_exactly_two_commands(repo_root):
    commands = _quick_start_commands(repo_root)
    assert len(commands) == 2, commands
    assert commands[0].startswith('pip install -e . && python tools/train.py')
    assert 'pytest' in commands[1]


def test_ci_runs_the_readme_test_command_verbatim(repo_root):
    test_command = _quick_start_commands(repo_root)[1].strip()
    ci_lines = [
        line.strip() for line in _read(repo_root, '.ci', 'run').splitlines()
    ]
    assert test_command in ci_lines, (test_command, ci_lines)


def test_main_job_config_exists(repo_root):
    command = _quick_start_commands(repo_root)[0]
    config = command.split('tools/train.py', 1)[1].split()[0]
    assert osp.isfile(osp.join(repo_root, config)), config
    assert 'synthreid' in config


def test_docs_links_resolve(repo_root):
    readme = _read(repo_root, 'README.md')
    for target in re.findall(r'\]\(([^)#]+)\)', readme):
        if target.startswith('http'):
            continue
        assert osp.exists(osp.join(repo_root, target)), target
