"""NaNGuardHook: names every non-finite loss term and the last checkpoint."""
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


def test_names_every_bad_term_and_the_checkpoint(tmp_path):
    hook = NaNGuardHook()
    outputs = dict(
        loss=torch.tensor(float('nan')),
        loss_cls=torch.tensor(0.5),
        loss_triplet=torch.tensor(float('inf')),
        loss_pc_ab=torch.tensor([1.0, float('nan')]))
    runner = _runner(tmp_path, last_ckpt='work/epoch_4.pth')
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(runner, 1, outputs=outputs)
    assert str(info.value) == (
        'non-finite loss "loss_triplet" = inf, "loss_pc_ab" = nan at epoch '
        '5, iteration 2 of the epoch (global iteration 42); the run is '
        'stopped and the last checkpoint is work/epoch_4.pth')


def test_total_alone_and_no_checkpoint(tmp_path):
    hook = NaNGuardHook()
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(
            _runner(tmp_path), 0, outputs=dict(loss=float('-inf')))
    assert '"loss" = -inf' in str(info.value)
    assert str(info.value).endswith('no checkpoint has been saved yet')
    # The work dir's record is read when the message hub has none.
    with pytest.raises(RuntimeError, match='checkpoint is /w/epoch_1.pth'):
        hook.after_train_iter(
            _runner(tmp_path, record='/w/epoch_1.pth\n'),
            0,
            outputs=dict(loss_cls=torch.tensor(float('nan'))))


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
