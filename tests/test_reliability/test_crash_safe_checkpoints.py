"""A run killed at any moment, or one whose disk fills up, keeps a loadable
checkpoint and a pointer naming one; NaN weights never reach the disk.

The crash tests fork the test process (imports already done) and train the
toy model of ``tests/_toy_runner.py`` in the child, saving a checkpoint every
iteration, until the child is killed with SIGKILL.
"""
import errno
import glob
import json
import os
import os.path as osp
import random
import resource
import signal
import time
import traceback

import pytest
import torch
from _toy_runner import toy_runner
from mmengine.hooks import Hook
from mmengine.runner import Runner
from reliability_utils import tiny_cfg

from mmpha.registry import HOOKS
from mmpha.utils import atomic_io, read_last_checkpoint
from mmpha.utils.atomic_io import remove_stale_temp_files
from mmpha.utils.checkpoint import load_local_checkpoint

#: Width of the toy model in the crash tests: a 0.5 MB checkpoint.
WIDTH = 256
#: Steps of one save at which the child kills itself, and how it counts
#: them: the temporary file written (not yet flushed), any fsync (file or
#: directory), a rename into place, the removal of an outdated checkpoint.
STAGES = ('written', 'fsync', 'replace', 'remove')


def _fork(child) -> int:
    """Run ``child()`` in a forked process that never returns to pytest."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            child()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def _arm_self_kill(work: str, stage: str, nth: int, report: int) -> None:
    """SIGKILL this process at the ``nth`` ``stage`` after the first save."""
    pointer = osp.join(work, 'last_checkpoint')
    seen = dict.fromkeys(STAGES, 0)

    def tick(name):
        if not osp.exists(pointer):
            return  # the first checkpoint is not complete yet
        seen[name] += 1
        if name == stage and seen[name] == nth:
            os.write(report, stage.encode())
            os.kill(os.getpid(), signal.SIGKILL)

    def counted(name, real):

        def wrapper(*args, **kwargs):
            tick(name)
            return real(*args, **kwargs)

        return wrapper

    os.fsync = counted('fsync', os.fsync)
    os.replace = counted('replace', os.replace)
    os.remove = counted('remove', os.remove)
    real_atomic_write = atomic_io.atomic_write

    def atomic_write(path, write):

        def write_then_tick(f):
            write(f)
            tick('written')

        real_atomic_write(path, write_then_tick)

    atomic_io.atomic_write = atomic_write


def _train_forever(work: str) -> None:
    toy_runner(
        work,
        by_epoch=False,
        max_iters=10**6,
        width=WIDTH,
        checkpoint=dict(max_keep_ckpts=2)).train()


def _wait_killed(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail('the training child did not finish in time')
        time.sleep(0.01)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
        f'the child ended with status {status}, not by SIGKILL (see its '
        'traceback above)')


def _check_work_dir(work: str) -> int:
    """Assert a killed run's work dir is usable; return the newest iter."""
    iters = {}
    for path in glob.glob(osp.join(work, '*.pth')):
        # No file under a final name is partial: every one loads.
        ckpt = load_local_checkpoint(path)
        assert all(
            torch.isfinite(v).all() for v in ckpt['state_dict'].values()
            if v.is_floating_point()), path
        iters[path] = ckpt['meta']['iter']
    assert iters, f'no checkpoint left in {work}: {os.listdir(work)}'
    target = read_last_checkpoint(work)
    assert target in iters, (target, sorted(iters))
    # The pointer trails the newest checkpoint by at most the one save
    # whose pointer update the kill interrupted.
    assert iters[target] >= max(iters.values()) - 1, (target, iters)
    return iters[target]


def test_sigkill_at_random_points_leaves_a_loadable_checkpoint(tmp_path):
    rng = random.Random(20240607)
    trials = [(stage, rng.randint(1, 3)) for stage in STAGES * 2]
    trials += [('timed', rng.uniform(0.0, 0.4)) for _ in range(4)]
    stages_hit, temp_files = set(), 0
    for trial, (stage, arg) in enumerate(trials):
        work = str(tmp_path / f'trial_{trial}')
        read, report = os.pipe()
        if stage == 'timed':
            pid = _fork(lambda: _train_forever(work))
            deadline = time.monotonic() + 60
            while not osp.exists(osp.join(work, 'last_checkpoint')):
                assert time.monotonic() < deadline, 'no first checkpoint'
                time.sleep(0.005)
            time.sleep(arg)
            os.kill(pid, signal.SIGKILL)
        else:

            def child():
                _arm_self_kill(work, stage, arg, report)
                _train_forever(work)

            pid = _fork(child)
        _wait_killed(pid)
        os.close(report)
        stages_hit.add(os.read(read, 64).decode() or stage)
        os.close(read)
        _check_work_dir(work)
        temps = [n for n in os.listdir(work) if '.tmp-' in n]
        temp_files += len(temps)
        # The killed writer is gone, so its temporary files are stale.
        assert sorted(remove_stale_temp_files(work)) == sorted(
            osp.join(work, n) for n in temps)
    assert stages_hit == set(STAGES) | {'timed'}
    # Kills landed while a temporary file was being written.
    assert temp_files > 0

    # The last trial's work dir resumes from its pointer and goes on.
    work = str(tmp_path / f'trial_{len(trials) - 1}')
    resumed_from = _check_work_dir(work)
    runner = toy_runner(
        work,
        by_epoch=False,
        max_iters=resumed_from + 2,
        width=WIDTH,
        checkpoint=dict(max_keep_ckpts=2),
        resume=True,
        load_from=read_last_checkpoint(work))
    runner.train()
    assert runner.iter == resumed_from + 2
    assert _check_work_dir(work) == resumed_from + 2


class _FillDisk(Hook):
    """Cap the file size below a checkpoint's before an epoch's save."""

    priority = 'LOW'  # after the epoch, before the checkpoint hook

    def __init__(self, epoch: int, limit: int) -> None:
        self.epoch = epoch
        self.limit = limit

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            # Without a handler SIGXFSZ kills the process; ignored, the
            # write fails with EFBIG as on a full disk.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, hard))


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    work = str(tmp_path / 'work')
    read, report = os.pipe()

    def child():
        try:
            toy_runner(
                work,
                max_epochs=3,
                width=WIDTH,
                checkpoint=dict(max_keep_ckpts=1),
                custom_hooks=[_FillDisk(epoch=2, limit=64 * 1024)]).train()
            result = dict(error=None)
        except OSError as err:
            result = dict(errno=err.errno, error=str(err))
        os.write(report, json.dumps(result).encode())

    pid = _fork(child)
    _, status = os.waitpid(pid, 0)
    os.close(report)
    result = json.loads(os.read(read, 65536).decode())
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    target = osp.join(work, 'epoch_2.pth')
    assert result['errno'] == errno.EFBIG, result
    assert f'could not write "{target}": File too large' in result['error']
    # max_keep_ckpts=1 did not remove epoch_1 before epoch_2 was complete.
    assert sorted(glob.glob(osp.join(
        work, '*.pth'))) == [osp.join(work, 'epoch_1.pth')]
    assert [n for n in os.listdir(work) if n.startswith('.')] == []
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == 'epoch_1.pth'
    assert load_local_checkpoint(
        read_last_checkpoint(work))['meta']['epoch'] == 1


@HOOKS.register_module(force=True)
class _NaNClsTokenAfterEpoch(Hook):
    """Make the cls token NaN after the last iteration of an epoch, whose
    loss was finite: NaNGuardHook cannot see it, the weights are bad."""

    def __init__(self, epoch: int = 2) -> None:
        self.epoch = epoch

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.epoch + 1 == self.epoch and self.end_of_epoch(
                runner.train_dataloader, batch_idx):
            with torch.no_grad():
                runner.model.backbone.cls_token.fill_(float('nan'))


def test_nan_cls_token_is_not_saved_nor_recommended(tmp_path, tiny_synthreid,
                                                    repo_root, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short paths: see reliability_utils
    cfg = tiny_cfg(
        repo_root,
        osp.relpath(tiny_synthreid),
        'work',
        max_epochs=3,
        algo='transreid',
        val_interval=100)
    cfg.custom_hooks = cfg.custom_hooks + [
        dict(type='_NaNClsTokenAfterEpoch', epoch=2)
    ]
    runner = Runner.from_cfg(cfg)
    assert 'SafeCheckpointHook' in [type(h).__name__ for h in runner.hooks]
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert message.startswith('not saving checkpoint epoch_2.pth: 1 '
                              'parameter(s) or buffer(s) of the model hold '
                              'NaN or Inf (backbone.cls_token)')
    assert message.endswith(
        f'the last checkpoint is {osp.abspath("work/epoch_1.pth")}')
    assert sorted(glob.glob('work/*.pth')) == ['work/epoch_1.pth']
    with open('work/last_checkpoint') as f:
        assert f.read() == 'epoch_1.pth'
    state = load_local_checkpoint('work/epoch_1.pth')['state_dict']
    assert torch.isfinite(state['backbone.cls_token']).all()
