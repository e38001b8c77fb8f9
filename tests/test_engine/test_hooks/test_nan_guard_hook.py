"""NaNGuardHook: names every non-finite loss term and the last checkpoint."""
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

from mmpha.engine.hooks import NaNGuardHook
from mmpha.registry import HOOKS


def _runner(tmp_path, last_ckpt=None, record=None):
    hub = MessageHub.get_instance('test_nan_guard_hook')
    hub.update_info('last_ckpt', last_ckpt)
    if record is not None:
        (tmp_path / 'last_checkpoint').write_text(record)
    return SimpleNamespace(
        message_hub=hub, work_dir=str(tmp_path), epoch=4, iter=41)


def test_finite_outputs_pass(tmp_path):
    hook = HOOKS.build(dict(type='NaNGuardHook'))
    outputs = dict(
        loss=torch.tensor(1.0),
        loss_cls=torch.tensor(0.5),
        accuracy=torch.tensor(float('nan')))  # not a loss: not checked
    hook.after_train_iter(_runner(tmp_path), 0, outputs=outputs)
    hook.after_train_iter(_runner(tmp_path), 0, outputs=None)


def _ckpt(path, value=1.0, mtime=None):
    """A checkpoint whose weight holds ``value``; returns its absolute path."""
    state = dict(weight=torch.full((2, 3), value), num_batches=torch.tensor(3))
    torch.save(dict(state_dict=state, meta={}), str(path))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return osp.abspath(path)


def test_names_every_bad_term_and_the_checkpoint(tmp_path):
    hook = NaNGuardHook()
    outputs = dict(
        loss=torch.tensor(float('nan')),
        loss_cls=torch.tensor(0.5),
        loss_triplet=torch.tensor(float('inf')),
        loss_pc_ab=torch.tensor([1.0, float('nan')]))
    ckpt = _ckpt(tmp_path / 'epoch_4.pth')
    runner = _runner(tmp_path, last_ckpt=ckpt)
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(runner, 1, outputs=outputs)
    assert str(info.value) == (
        'non-finite loss "loss_triplet" = inf, "loss_pc_ab" = nan at epoch '
        '5, iteration 2 of the epoch (global iteration 42); the run is '
        f'stopped and the last checkpoint is {ckpt}')


def test_total_alone_and_no_checkpoint(tmp_path):
    hook = NaNGuardHook()
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(
            _runner(tmp_path), 0, outputs=dict(loss=float('-inf')))
    assert '"loss" = -inf' in str(info.value)
    assert str(info.value).endswith(
        'no checkpoint with finite weights has been saved yet')
    # The work dir's relative pointer is read when the message hub has none.
    ckpt = _ckpt(tmp_path / 'epoch_1.pth')
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(
            _runner(tmp_path, record='epoch_1.pth\n'),
            0,
            outputs=dict(loss_cls=torch.tensor(float('nan'))))
    assert str(info.value).endswith(f'the last checkpoint is {ckpt}')


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_never_names_a_checkpoint_with_non_finite_weights(tmp_path, bad):
    good = _ckpt(tmp_path / 'epoch_1.pth', mtime=1000)
    _ckpt(tmp_path / 'epoch_3.pth', mtime=2000)  # newest finite: epoch_3
    newest_bad = _ckpt(tmp_path / 'epoch_4.pth', value=bad, mtime=3000)
    (tmp_path / 'epoch_5.pth').write_bytes(b'truncated')  # not loadable
    os.utime(tmp_path / 'epoch_5.pth', (4000, 4000))
    runner = _runner(tmp_path, last_ckpt=newest_bad, record='epoch_5.pth')
    assert NaNGuardHook.last_checkpoint(runner) == str(tmp_path /
                                                       'epoch_3.pth')
    with pytest.raises(RuntimeError) as info:
        NaNGuardHook().after_train_iter(
            runner, 0, outputs=dict(loss=torch.tensor(bad)))
    assert str(info.value).endswith(
        f'the last checkpoint is {tmp_path / "epoch_3.pth"}')
    # Only non-finite and broken files: none is named.
    os.remove(tmp_path / 'epoch_3.pth')
    os.remove(good)
    assert NaNGuardHook.last_checkpoint(runner) is None


def test_keys_select_the_checked_outputs(tmp_path):
    hook = NaNGuardHook(keys=['loss_cls', 'grad_norm'])
    hook.after_train_iter(
        _runner(tmp_path),
        0,
        outputs=dict(loss_triplet=torch.tensor(float('nan'))))
    with pytest.raises(RuntimeError, match='"grad_norm" = inf'):
        hook.after_train_iter(
            _runner(tmp_path), 0, outputs=dict(grad_norm=float('inf')))
    with pytest.raises(TypeError, match="'loss_cls'"):
        NaNGuardHook(keys='loss_cls')
    with pytest.raises(ValueError, match='keys must not be empty'):
        NaNGuardHook(keys=[])


def test_runs_before_the_checkpoint_hook():
    from mmengine.hooks import CheckpointHook, LoggerHook
    from mmengine.runner.priority import get_priority
    guard = get_priority(NaNGuardHook.priority)
    assert guard < get_priority(CheckpointHook.priority)
    assert guard < get_priority(LoggerHook.priority)
