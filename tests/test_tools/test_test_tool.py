"""tools/test.py loads checkpoints strictly and checks --out before it
evaluates; the results file is written atomically."""
import glob
import os
import os.path as osp

import pytest
import torch
from _tiny_reid import NUM_GALLERY, NUM_QUERY, run_tool

from mmpha.registry import RUNNERS
from mmpha.utils.state_dict_load import CheckpointMismatchError

TOOL = 'tools/test.py'


def _test(repo_root, monkeypatch, tmp_path, cfg, ckpt, *extra):
    args = [cfg, ckpt, '--work-dir', str(tmp_path / 'work'), *extra]
    return run_tool(repo_root, TOOL, args, monkeypatch)


def test_matching_checkpoint_writes_results_atomically(repo_root, tiny_files,
                                                       tmp_path, monkeypatch):
    out = tmp_path / 'res.pth'
    _test(repo_root, monkeypatch, tmp_path, tiny_files['transreid_cfg'],
          tiny_files['transreid_ckpt'], '--out', out)
    data = torch.load(out, weights_only=True)
    assert data['query_feats'].shape[0] == NUM_QUERY
    assert data['gallery_feats'].shape[0] == NUM_GALLERY
    assert {'mAP', 'R1'} <= set(data['metrics'])
    assert 0 <= data['metrics']['mAP'] <= 100
    # No temporary file is left next to the result.
    assert sorted(os.listdir(tmp_path)) == ['res.pth', 'work']


def test_checkpoint_of_another_model_is_an_error(repo_root, tiny_files,
                                                 tmp_path, monkeypatch):
    saved = torch.load(tiny_files['transreid_ckpt'], weights_only=True)
    saved['state_dict']['neck.fc.weight'] = torch.zeros(4, 4)
    extra = str(tmp_path / 'extra.pth')
    torch.save(saved, extra)
    with pytest.raises(CheckpointMismatchError) as e:
        _test(repo_root, monkeypatch, tmp_path, tiny_files['transreid_cfg'],
              extra)
    message = str(e.value)
    assert '0 missing' in message and '1 unexpected in it: neck.fc.weight' \
        in message and '--non-strict' in message
    # --non-strict evaluates the weights that fit, with a warning.
    out = tmp_path / 'nonstrict.pth'
    _test(repo_root, monkeypatch, tmp_path, tiny_files['transreid_cfg'], extra,
          '--non-strict', '--out', out)
    assert 'metrics' in torch.load(out, weights_only=True)
    # Another class count: tensors of another shape.
    with pytest.raises(
            CheckpointMismatchError,
            match=r'0 missing.*0 unexpected.*5 of another shape: '
            r'head\.classifiers\.0\.weight: \[75, 32\] in the '
            r'checkpoint, \[3, 32\] in the model'):
        _test(repo_root, monkeypatch, tmp_path, tiny_files['transreid_cfg'],
              tiny_files['transreid_ckpt'], '--cfg-options',
              'model.head.num_classes=3')


def test_pha_checkpoint_tests_in_the_transreid_config(repo_root, tiny_files,
                                                      tmp_path, monkeypatch):
    """The PHA head is training-only: a PHA checkpoint infers like the
    TransReID model with its weights, so its keys are left out, not
    refused."""
    outs = []
    for cfg in ('pha_cfg', 'transreid_cfg'):
        out = tmp_path / f'{cfg}.pth'
        _test(repo_root, monkeypatch, tmp_path, tiny_files[cfg],
              tiny_files['pha_ckpt'], '--out', out)
        outs.append(torch.load(out, weights_only=True))
    torch.testing.assert_close(outs[0]['query_feats'], outs[1]['query_feats'])
    assert outs[0]['metrics'] == outs[1]['metrics']


def test_checkpoint_matching_nothing_is_an_error_even_non_strict(
        repo_root, tiny_files, tmp_path, monkeypatch):
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, foreign)
    for extra in ((), ('--non-strict', )):
        with pytest.raises(CheckpointMismatchError, match='no key of') as e:
            _test(repo_root, monkeypatch, tmp_path,
                  tiny_files['transreid_cfg'], foreign, *extra)
        assert '1 unexpected' in str(e.value) and 'fc.weight' in str(e.value)


def _no_runner(monkeypatch):

    def fail(*args, **kwargs):
        raise AssertionError('the Runner was built before --out was checked')

    monkeypatch.setattr(RUNNERS, 'build', fail)


@pytest.mark.parametrize('case', ['missing_dir', 'is_dir', 'suffix'])
def test_out_is_checked_before_the_runner_is_built(repo_root, tiny_files,
                                                   tmp_path, monkeypatch,
                                                   case):
    _no_runner(monkeypatch)
    if case == 'missing_dir':
        out, error, match = tmp_path / 'nope' / 'r.pth', FileNotFoundError, \
            'does not exist'
    elif case == 'is_dir':
        out = tmp_path / 'adir.pth'
        out.mkdir()
        error, match = IsADirectoryError, 'is a directory'
    else:
        out, error, match = tmp_path / 'r.pkl', ValueError, 'end with ".pth"'
    with pytest.raises(error, match=match) as e:
        _test(repo_root, monkeypatch, tmp_path, tiny_files['transreid_cfg'],
              tiny_files['transreid_ckpt'], '--out', out)
    assert '--out' in str(e.value)
    assert not glob.glob(str(tmp_path / 'work' / '*'))


@pytest.mark.skipif(
    hasattr(os, 'geteuid') and os.geteuid() == 0,
    reason='root writes into read-only directories')
def test_out_in_read_only_dir_is_refused(repo_root, tiny_files, tmp_path,
                                         monkeypatch):
    _no_runner(monkeypatch)
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match='does not accept'):
            _test(repo_root, monkeypatch, tmp_path,
                  tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'],
                  '--out', ro / 'r.pth')
    finally:
        ro.chmod(0o700)


def test_flags_set_config_keys(repo_root, tiny_files, tmp_path, monkeypatch):
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location('_test_tool_flags',
                                                  osp.join(repo_root, TOOL))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    from mmengine.config import Config

    def merged(*extra):
        monkeypatch.setattr(sys, 'argv', [
            TOOL, tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'],
            *extra
        ])
        args = tool.parse_args()
        return tool.merge_args(Config.fromfile(args.config), args)

    plain = merged()
    assert plain.strict_load is True and plain.resume is False
    assert plain.runner_type == 'ReIDRunner'
    assert 'unsafe_load' not in plain
    flagged = merged('--non-strict', '--unsafe-load')
    assert flagged.strict_load is False and flagged.unsafe_load is True
