"""SafeCheckpointHook: order of disk operations, pointer, NaN weights.

Each test trains the toy model of ``tests/_toy_runner.py`` with a real
MMEngine Runner for a few epochs of two iterations.
"""
import glob
import os
import os.path as osp
import shutil

import pytest
import torch
from _toy_runner import toy_runner
from mmengine.config import Config
from mmengine.hooks import CheckpointHook, Hook

from mmpha.engine.hooks import NaNGuardHook, SafeCheckpointHook
from mmpha.registry import HOOKS
from mmpha.utils import read_last_checkpoint
from mmpha.utils.atomic_io import AtomicLocalBackend, atomic_write
from mmpha.utils.checkpoint import load_local_checkpoint


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _files(dirname):
    return sorted(os.listdir(dirname))


def _ckpts(dirname):
    return sorted(
        osp.basename(p) for p in glob.glob(osp.join(str(dirname), '*.pth')))


def _hidden(dirname):
    return [name for name in os.listdir(dirname) if name.startswith('.')]


def test_default_runtime_uses_it_and_every_argument_works(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    hook = HOOKS.build(cfg.default_hooks.checkpoint)
    assert type(hook) is SafeCheckpointHook
    assert isinstance(hook, CheckpointHook)
    assert (hook.interval, hook.max_keep_ckpts, hook.save_best,
            hook.rules) == (10, 3, ['mAP'], ['greater'])
    hook = HOOKS.build(
        dict(
            type='SafeCheckpointHook',
            interval=2,
            by_epoch=False,
            save_optimizer=False,
            save_param_scheduler=False,
            out_dir='elsewhere',
            max_keep_ckpts=1,
            save_last=False,
            save_best=['mAP', 'R1'],
            rule=['greater', 'greater'],
            greater_keys=['R1'],
            less_keys=['loss'],
            filename_tmpl='ckpt_{}.pth',
            published_keys=['state_dict'],
            save_begin=1))
    assert (hook.by_epoch, hook.out_dir, hook.save_last, hook.filename_tmpl,
            hook.save_begin, hook.key_indicators) == (False, 'elsewhere',
                                                      False, 'ckpt_{}.pth', 1,
                                                      ['mAP', 'R1'])
    with pytest.raises(KeyError, match='bigger'):
        SafeCheckpointHook(save_best='mAP', rule='bigger')
    # No repository config falls back to MMEngine's hook.
    for path in glob.glob(osp.join(repo_root, 'configs', '*', '*.py')):
        cfg = Config.fromfile(path)
        assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook', \
            path


def _record_disk_operations(monkeypatch):
    """Log every rename and removal, with the pointer's new content."""
    events = []
    replace, remove = os.replace, os.remove

    def logged_replace(src, dst):
        name = osp.basename(dst)
        if name == 'last_checkpoint':
            with open(src) as f:
                name = f'last_checkpoint -> {f.read()}'
        events.append(f'write {name}')
        return replace(src, dst)

    def logged_remove(path):
        events.append(f'remove {osp.basename(path)}')
        return remove(path)

    monkeypatch.setattr(os, 'replace', logged_replace)
    monkeypatch.setattr(os, 'remove', logged_remove)
    return events


def test_old_files_are_removed_only_after_the_new_ones(tmp_path, monkeypatch):
    events = _record_disk_operations(monkeypatch)
    work = str(tmp_path / 'work')
    runner = toy_runner(
        work,
        max_epochs=4,
        scores=[0.1, 0.5, 0.3, 0.7],
        checkpoint=dict(max_keep_ckpts=2, save_best='mAP', rule='greater'))
    runner.train()
    monkeypatch.undo()
    # MMEngine's hook removes each old file before writing the new one.
    assert events == [
        'write epoch_1.pth',
        'write last_checkpoint -> epoch_1.pth',
        'write best_mAP_epoch_1.pth',
        'write epoch_1.pth',  # re-saved to record the new best
        'write last_checkpoint -> epoch_1.pth',
        'write epoch_2.pth',
        'write last_checkpoint -> epoch_2.pth',
        'write best_mAP_epoch_2.pth',
        'remove best_mAP_epoch_1.pth',
        'write epoch_2.pth',
        'write last_checkpoint -> epoch_2.pth',
        'write epoch_3.pth',
        'write last_checkpoint -> epoch_3.pth',
        'remove epoch_1.pth',
        'write epoch_4.pth',
        'write last_checkpoint -> epoch_4.pth',
        'remove epoch_2.pth',
        'write best_mAP_epoch_4.pth',
        'remove best_mAP_epoch_2.pth',
        'write epoch_4.pth',
        'write last_checkpoint -> epoch_4.pth',
    ]
    assert _ckpts(work) == [
        'best_mAP_epoch_4.pth', 'epoch_3.pth', 'epoch_4.pth'
    ]
    assert _hidden(work) == []
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == 'epoch_4.pth'
    assert read_last_checkpoint(work) == osp.join(work, 'epoch_4.pth')
    last = load_local_checkpoint(osp.join(work, 'epoch_4.pth'))
    best = load_local_checkpoint(osp.join(work, 'best_mAP_epoch_4.pth'))
    assert last['meta']['epoch'] == 4
    assert best['message_hub']['runtime_info']['best_score'] == 0.7
    assert last['message_hub']['runtime_info']['best_ckpt'] == osp.join(
        work, 'best_mAP_epoch_4.pth')
    assert last['message_hub']['runtime_info']['keep_ckpt_ids'] == [3, 4]


def test_a_failed_save_leaves_the_previous_state(tmp_path, monkeypatch):
    put = AtomicLocalBackend.put

    def disk_full_at_epoch_3(self, obj, filepath):
        if osp.basename(filepath) != 'epoch_3.pth':
            return put(self, obj, filepath)

        def write(f):
            f.write(obj[:len(obj) // 2])
            raise OSError(28, 'No space left on device')

        atomic_write(filepath, write)

    monkeypatch.setattr(AtomicLocalBackend, 'put', disk_full_at_epoch_3)
    work = str(tmp_path / 'work')
    runner = toy_runner(work, max_epochs=4, checkpoint=dict(max_keep_ckpts=2))
    with pytest.raises(OSError) as info:
        runner.train()
    target = osp.join(work, 'epoch_3.pth')
    assert f'could not write "{target}": No space left' in str(info.value)
    # epoch_1 is still there: max_keep_ckpts removes it only after epoch_3.
    assert _ckpts(work) == ['epoch_1.pth', 'epoch_2.pth']
    assert _hidden(work) == []
    assert read_last_checkpoint(work) == osp.join(work, 'epoch_2.pth')
    hub = runner.message_hub
    assert hub.get_info('last_ckpt') == osp.join(work, 'epoch_2.pth')
    assert hub.get_info('keep_ckpt_ids') == [1, 2]
    assert NaNGuardHook.last_checkpoint(runner) == osp.join(
        work, 'epoch_2.pth')


@pytest.mark.parametrize('inside', [True, False])
def test_pointer_with_an_out_dir(tmp_path, inside):
    work = str(tmp_path / 'work')
    out_dir = osp.join(work, 'ckpts') if inside else str(tmp_path / 'store')
    toy_runner(work, max_epochs=1, checkpoint=dict(out_dir=out_dir)).train()
    # MMEngine appends the work dir's name to out_dir.
    ckpt = osp.join(out_dir, 'work', 'epoch_1.pth')
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == ('ckpts/work/epoch_1.pth' if inside else ckpt)
    assert read_last_checkpoint(work) == ckpt
    assert load_local_checkpoint(ckpt)['meta']['epoch'] == 1


def test_copied_work_dir_resumes_from_and_prunes_only_its_own_files(tmp_path):
    original = str(tmp_path / 'original')
    checkpoint = dict(max_keep_ckpts=1, save_best='mAP', rule='greater')
    toy_runner(
        original, max_epochs=2, scores=[0.2, 0.4],
        checkpoint=checkpoint).train()
    before = {
        name: os.stat(osp.join(original, name)).st_mtime_ns
        for name in _files(original)
    }
    assert _ckpts(original) == ['best_mAP_epoch_2.pth', 'epoch_2.pth']

    copy = str(tmp_path / 'copy')
    shutil.copytree(original, copy)
    resume_from = read_last_checkpoint(copy)
    assert resume_from == osp.join(copy, 'epoch_2.pth')
    runner = toy_runner(
        copy,
        max_epochs=4,
        scores=[0.6, 0.8],
        checkpoint=checkpoint,
        resume=True,
        load_from=resume_from)
    runner.train()
    assert runner.epoch == 4
    assert _ckpts(copy) == ['best_mAP_epoch_4.pth', 'epoch_4.pth']
    assert read_last_checkpoint(copy) == osp.join(copy, 'epoch_4.pth')
    # The original's checkpoints were neither removed nor rewritten,
    # although the resumed message hub held their absolute paths.
    after = {
        name: os.stat(osp.join(original, name)).st_mtime_ns
        for name in _files(original)
    }
    assert after == before

    moved = str(tmp_path / 'moved')
    shutil.move(copy, moved)
    assert read_last_checkpoint(moved) == osp.join(moved, 'epoch_4.pth')
    assert load_local_checkpoint(
        read_last_checkpoint(moved))['meta']['epoch'] == 4


class _PoisonWeights(Hook):
    """Make a weight NaN and a buffer Inf after the last iteration of an
    epoch: the loss of that iteration was finite."""

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.epoch + 1 == self.epoch and self.end_of_epoch(
                runner.train_dataloader, batch_idx):
            with torch.no_grad():
                runner.model.linear.weight[0, 0] = float('nan')
                runner.model.norm.running_mean[1] = float('inf')


def test_non_finite_weights_are_not_written(tmp_path):
    work = str(tmp_path / 'work')
    runner = toy_runner(
        work,
        max_epochs=3,
        scores=[0.1, 0.9, 1.0],
        checkpoint=dict(save_best='mAP', rule='greater'),
        custom_hooks=[NaNGuardHook(), _PoisonWeights(epoch=2)])
    with pytest.raises(RuntimeError) as info:
        runner.train()
    assert str(info.value) == (
        'not saving checkpoint epoch_2.pth: 2 parameter(s) or buffer(s) of '
        'the model hold NaN or Inf (linear.weight, norm.running_mean); the '
        'run is stopped, the best checkpoint and last_checkpoint are '
        'unchanged and the last checkpoint is '
        f'{osp.join(work, "epoch_1.pth")}')
    assert _ckpts(work) == ['best_mAP_epoch_1.pth', 'epoch_1.pth']
    assert _hidden(work) == []
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == 'epoch_1.pth'
    hub = runner.message_hub
    assert hub.get_info('last_ckpt') == osp.join(work, 'epoch_1.pth')
    assert hub.get_info('best_score') == 0.1


def test_non_finite_weights_are_never_marked_best(tmp_path):
    work = str(tmp_path / 'work')
    # No periodic checkpoints: only the best one is written.
    runner = toy_runner(
        work,
        max_epochs=3,
        scores=[0.1, 0.9, 1.0],
        checkpoint=dict(
            interval=100, save_last=False, save_best='mAP', rule='greater'),
        custom_hooks=[_PoisonWeights(epoch=2)])
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert message.startswith('not saving checkpoint best_mAP_epoch_2.pth')
    # The best file of epoch 1 is the last checkpoint with finite weights.
    assert message.endswith(
        f'the last checkpoint is {osp.join(work, "best_mAP_epoch_1.pth")}')
    assert _ckpts(work) == ['best_mAP_epoch_1.pth']
    assert not osp.exists(osp.join(work, 'last_checkpoint'))
    assert runner.message_hub.get_info('best_score') == 0.1
    assert runner.message_hub.get_info('best_ckpt') == osp.join(
        work, 'best_mAP_epoch_1.pth')


def test_published_copy_is_written_atomically(tmp_path):
    work = str(tmp_path / 'work')
    toy_runner(
        work,
        max_epochs=2,
        checkpoint=dict(
            max_keep_ckpts=1, published_keys=['meta', 'state_dict'])).train()
    published = [n for n in _ckpts(work) if n.startswith('epoch_2-')]
    assert len(published) == 1 and len(
        published[0]) == len('epoch_2-01234567.pth'), _ckpts(work)
    ckpt = load_local_checkpoint(osp.join(work, published[0]))
    assert set(ckpt) == {'meta', 'state_dict'}
    assert _hidden(work) == []
