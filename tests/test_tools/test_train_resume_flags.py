"""tools/train.py: --resume with nothing to resume from is an error; the
opt-ins set the config keys that mmpha's runner reads."""
import glob
import importlib.util
import os.path as osp
import sys

import pytest
from _tiny_reid import run_tool
from mmengine.config import Config

TOOL = 'tools/train.py'


def _merged(repo_root, monkeypatch, cfg_path, *extra):
    spec = importlib.util.spec_from_file_location('_train_tool_flags',
                                                  osp.join(repo_root, TOOL))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', [TOOL, cfg_path, *extra])
    args = tool.parse_args()
    return tool.merge_args(Config.fromfile(args.config), args)


def test_resume_with_an_empty_work_dir_is_an_error(repo_root, tiny_files,
                                                   tmp_path, monkeypatch):
    work = tmp_path / 'empty'
    with pytest.raises(FileNotFoundError, match='has no last_checkpoint') as e:
        run_tool(repo_root, TOOL, [
            tiny_files['transreid_cfg'], '--work-dir', work, '--resume',
            '--cfg-options', 'train_cfg.max_epochs=2',
            'train_dataloader.batch_size=4',
            'train_dataloader.batch_sampler.num_instances=2'
        ], monkeypatch)
    assert str(work) in str(e.value)
    assert glob.glob(str(work / '*.pth')) == []


def test_flags_set_the_runner_keys(repo_root, tiny_files, monkeypatch):
    cfg_path = tiny_files['transreid_cfg']
    plain = _merged(repo_root, monkeypatch, cfg_path)
    assert plain.runner_type == 'ReIDRunner'
    for key in ('resume_or_scratch', 'resume_anyway', 'unsafe_load'):
        assert key not in plain

    auto = _merged(repo_root, monkeypatch, cfg_path, '--resume')
    assert auto.resume is True and auto.load_from is None
    assert 'resume_or_scratch' not in auto

    scratch = _merged(repo_root, monkeypatch, cfg_path, '--resume-or-scratch',
                      '--resume-anyway', '--unsafe-load')
    assert scratch.resume is True and scratch.load_from is None
    assert scratch.resume_or_scratch is True
    assert scratch.resume_anyway is True and scratch.unsafe_load is True

    given = _merged(repo_root, monkeypatch, cfg_path, '--resume', 'x.pth',
                    '--resume-anyway')
    assert given.load_from == 'x.pth' and given.resume_anyway is True

    with pytest.raises(
            ValueError, match='cannot be combined with --resume '
            'x.pth'):
        _merged(repo_root, monkeypatch, cfg_path, '--resume', 'x.pth',
                '--resume-or-scratch')
    with pytest.raises(ValueError, match='--resume-anyway needs --resume'):
        _merged(repo_root, monkeypatch, cfg_path, '--resume-anyway')


def test_max_epochs_override_moves_the_cosine(repo_root, tiny_files,
                                              monkeypatch):
    cfg = _merged(repo_root, monkeypatch, tiny_files['pha_cfg'],
                  '--cfg-options', 'train_cfg.max_epochs=7')
    cosine = cfg.param_scheduler[-1]
    assert (cosine.begin, cosine.end, cosine.T_max) == (1, 7, 6)
    with pytest.raises(
            ValueError,
            match='train_cfg.max_epochs must be a '
            'positive int, got 0'):
        _merged(repo_root, monkeypatch, tiny_files['pha_cfg'], '--cfg-options',
                'train_cfg.max_epochs=0')
    # The cosine starts after the one-epoch warm-up: one epoch leaves it
    # empty, refused when the config is read.
    with pytest.raises(
            ValueError,
            match=r'param_scheduler\[1\] '
            r'\(CosineAnnealingLR\) begins at 1 .*max_epochs=1'):
        _merged(repo_root, monkeypatch, tiny_files['pha_cfg'], '--cfg-options',
                'train_cfg.max_epochs=1')


def test_amp_dtype_and_compile_flags(repo_root, tiny_files, monkeypatch):
    import torch
    cfg_path = tiny_files['transreid_cfg']
    plain = _merged(repo_root, monkeypatch, cfg_path)
    assert 'compile' not in plain
    assert plain.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert _merged(repo_root, monkeypatch, cfg_path,
                   '--compile').compile is True
    with pytest.raises(ValueError, match='--amp-dtype bfloat16 needs --amp'):
        _merged(repo_root, monkeypatch, cfg_path, '--amp-dtype', 'bfloat16')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    amp = _merged(repo_root, monkeypatch, cfg_path, '--amp', '--amp-dtype',
                  'bfloat16')
    assert amp.optim_wrapper.type == 'AmpOptimWrapper'
    assert amp.optim_wrapper.dtype == 'bfloat16'
    assert 'dtype' not in _merged(repo_root, monkeypatch, cfg_path,
                                  '--amp').optim_wrapper
