"""tools/model_converters/transreid2mmpha.py: released checkpoint -> mmpha."""
import os
import os.path as osp

import pytest
import torch
from _release_layout import build, fill_distinct, model_cfg, to_release
from _tiny_reid import run_tool
from mmengine.config import Config

from mmpha.structures import ReIDDataSample
from mmpha.utils.checkpoint import load_local_checkpoint

TOOL = 'tools/model_converters/transreid2mmpha.py'


def _release_file(repo_root, tmp_path, layout='pha', cam=3, **kwargs):
    cfg = model_cfg(repo_root, layout, cam, **kwargs)
    model = build(cfg)
    fill_distinct(model)
    release, dead = to_release(model.state_dict(), layout)
    path = str(tmp_path / 'release' / 'transformer_120.pth')
    os.makedirs(osp.dirname(path), exist_ok=True)
    # As the release saves it after DataParallel / DDP training.
    torch.save({'module.' + k: v for k, v in release.items()}, path)
    return cfg, model, path, dead


def _config_file(tmp_path, cfg) -> str:
    path = str(tmp_path / 'model_cfg.py')
    Config(dict(model=cfg)).dump(path)
    return path


@pytest.mark.parametrize('layout', ['transreid', 'transreid-jpm', 'pha'])
def test_converts_every_tensor_and_writes_atomically(repo_root, tmp_path,
                                                     monkeypatch, layout):
    cfg, model, src, dead = _release_file(repo_root, tmp_path, layout)
    dst = str(tmp_path / 'out' / 'converted.pth')
    assert run_tool(repo_root, TOOL, [src, dst], monkeypatch) == 0
    assert os.listdir(tmp_path / 'out') == ['converted.pth']
    checkpoint = load_local_checkpoint(dst)
    expected = model.state_dict()
    assert sorted(checkpoint['state_dict']) == sorted(expected)
    for key, value in expected.items():
        assert torch.equal(checkpoint['state_dict'][key], value), key
    meta = checkpoint['meta']
    assert meta['release_layout'] == layout
    assert sorted(meta['release_dropped']) == dead
    # The converted file loads strictly into the model of the same config.
    loaded = build(cfg)
    loaded.load_state_dict(checkpoint['state_dict'])
    x = torch.randn(2, 3, 64, 32)
    samples = [ReIDDataSample().set_cam_id(i) for i in (0, 2)]
    with torch.no_grad():
        assert torch.equal(loaded(x, samples), model(x, samples))


def test_config_fits_grid_and_class_count(repo_root, tmp_path, monkeypatch):
    _, _, src, _ = _release_file(repo_root, tmp_path, 'transreid-jpm')
    # Another grid (7 x 2) and another class count (9): the position
    # embedding is resized and the classifiers dropped, with a record.
    other = model_cfg(
        repo_root, 'transreid-jpm', 3, num_classes=9, img_size=(88, 32))
    dst = str(tmp_path / 'fitted.pth')
    run_tool(repo_root, TOOL,
             [src, dst, '--config',
              _config_file(tmp_path, other)], monkeypatch)
    checkpoint = load_local_checkpoint(dst)
    state = checkpoint['state_dict']
    assert state['backbone.pos_embed'].shape == (1, 15, 32)
    assert not any(k.startswith('head.classifiers.') for k in state)
    assert 'head.classifiers.0.weight' in checkpoint['meta']['kept_at_init']
    model = build(other)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert unexpected == []
    assert sorted(missing) == [
        f'head.classifiers.{i}.weight' for i in range(5)
    ]


def test_clear_errors_and_no_output_on_failure(repo_root, tmp_path,
                                               monkeypatch):
    cfg, model, src, _ = _release_file(repo_root, tmp_path, 'transreid-jpm')
    dst = str(tmp_path / 'never.pth')

    def run(*args):
        with pytest.raises(SystemExit) as info:
            run_tool(repo_root, TOOL, list(args), monkeypatch)
        assert not osp.exists(dst)
        return str(info.value)

    assert 'does not exist' in run(str(tmp_path / 'nope.pth'), dst)
    assert 'must differ from src' in run(src, src)
    # An mmpha checkpoint (or any other dict of tensors) is not a release.
    mmpha_ckpt = str(tmp_path / 'mmpha.pth')
    torch.save({'state_dict': model.state_dict()}, mmpha_ckpt)
    assert 'not a checkpoint of the released' in run(mmpha_ckpt, dst)
    # A file that needs unpickling of arbitrary objects is refused.
    unsafe = str(tmp_path / 'unsafe.pth')
    torch.save({'base.pos_embed': torch.zeros(1), 'obj': _Payload()}, unsafe)
    assert 'cannot load' in run(unsafe, dst)
    # A config whose model the release does not fit (no SIE).
    no_sie = _config_file(tmp_path, model_cfg(repo_root, 'transreid-jpm'))
    message = run(src, dst, '--config', no_sie)
    assert 'has SIE (3 rows)' in message and 'camera_num' in message
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]


class _Payload:
    """A pickled object that a weights-only load must refuse."""

    def __reduce__(self):
        return (print, ('unpickled', ))
