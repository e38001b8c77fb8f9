"""Atomic writes: the destination holds the old or the whole new content."""
import errno
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.fileio import LocalBackend, get_file_backend

from mmpha.utils import (atomic_torch_save, atomic_write_bytes,
                         atomic_write_text)
from mmpha.utils.atomic_io import (ATOMIC_BACKEND, AtomicLocalBackend,
                                   atomic_write, register_atomic_backend,
                                   remove_stale_temp_files, temp_path_for)


def _listing(dirname):
    return sorted(os.listdir(dirname))


def test_writes_each_kind_and_leaves_only_the_destination(tmp_path):
    atomic_write_bytes(tmp_path / 'a.bin', b'\x00\x01payload')
    atomic_write_text(tmp_path / 'b.txt', 'épée\n')
    atomic_torch_save({'w': torch.arange(6.).view(2, 3)}, tmp_path / 'c.pth')
    assert (tmp_path / 'a.bin').read_bytes() == b'\x00\x01payload'
    assert (tmp_path / 'b.txt').read_bytes() == 'épée\n'.encode('utf-8')
    loaded = torch.load(tmp_path / 'c.pth', weights_only=True)
    assert torch.equal(loaded['w'], torch.arange(6.).view(2, 3))
    assert _listing(tmp_path) == ['a.bin', 'b.txt', 'c.pth']
    # Overwriting replaces the content; a missing directory is created.
    atomic_write_text(tmp_path / 'b.txt', 'new')
    atomic_write_text(tmp_path / 'sub' / 'dir' / 'd.txt', 'deep')
    assert (tmp_path / 'b.txt').read_text() == 'new'
    assert (tmp_path / 'sub' / 'dir' / 'd.txt').read_text() == 'deep'


def test_permissions_follow_the_umask_like_open(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / 'atomic', 'x')
        with open(tmp_path / 'plain', 'w') as f:
            f.write('x')
    finally:
        os.umask(old)
    mode = os.stat(tmp_path / 'atomic').st_mode & 0o777
    assert mode == os.stat(tmp_path / 'plain').st_mode & 0o777 == 0o640


def test_temp_name_is_hidden_unique_and_beside_the_destination(tmp_path):
    dest = tmp_path / 'epoch_3.pth'
    names = {temp_path_for(dest) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert osp.dirname(name) == str(tmp_path)
        assert osp.basename(name).startswith(
            f'.epoch_3.pth.tmp-{os.getpid()}-')


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, 'No space left on device')


def _partial_then_full(f):
    f.write(b'partial')
    _no_space()


@pytest.mark.parametrize('target', ['write', 'fsync', 'replace'])
def test_os_error_leaves_the_destination_and_no_temp_file(
        tmp_path, monkeypatch, target):
    """A full disk while writing, syncing or renaming."""
    dest = tmp_path / 'last_checkpoint'
    dest.write_bytes(b'epoch_1.pth')
    write = _partial_then_full
    if target != 'write':
        monkeypatch.setattr(os, target, _no_space)
        write = lambda f: f.write(b'new content')  # noqa: E731
    with pytest.raises(OSError) as info:
        atomic_write(dest, write)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f'[Errno {errno.ENOSPC}] could not write "{dest}": No space left on '
        'device; the file on disk (if any) is unchanged')
    assert dest.read_bytes() == b'epoch_1.pth'
    assert _listing(tmp_path) == ['last_checkpoint']


def test_subclass_of_os_error_is_kept(tmp_path):
    # A missing parent that cannot be created (a file is in the way).
    (tmp_path / 'file').write_text('')
    with pytest.raises(FileExistsError, match='could not write'):
        atomic_write_text(tmp_path / 'file' / 'x.txt', 'x')


def test_serialisation_error_leaves_the_destination(tmp_path):
    dest = tmp_path / 'best.pth'
    atomic_torch_save({'w': torch.ones(2)}, dest)
    before = dest.read_bytes()
    with pytest.raises(Exception) as info:
        atomic_torch_save({'w': torch.ones(2), 'f': lambda: 0}, dest)
    if sys.version_info >= (3, 11):
        assert any(str(dest) in note for note in info.value.__notes__)
    assert dest.read_bytes() == before
    assert _listing(tmp_path) == ['best.pth']


def test_bad_data_types_are_refused(tmp_path):
    with pytest.raises(TypeError, match='data must be bytes, got str'):
        atomic_write_bytes(tmp_path / 'x', 'text')
    with pytest.raises(TypeError, match='text must be str, got bytes'):
        atomic_write_text(tmp_path / 'x', b'bytes')
    assert _listing(tmp_path) == []


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, '-c', 'import os; print(os.getpid())'],
        capture_output=True,
        text=True,
        check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f'.epoch_2.pth.tmp-{dead_pid}-0a1b2c3d'
    live = tmp_path / f'.epoch_3.pth.tmp-{os.getpid()}-0a1b2c3d'
    other = tmp_path / '.hidden.tmp-notapid'
    for path in (stale, live, other):
        path.write_bytes(b'partial')
    assert remove_stale_temp_files(tmp_path) == [str(stale)]
    assert _listing(tmp_path) == sorted([live.name, other.name])
    assert remove_stale_temp_files(tmp_path / 'missing') == []


def test_backend_is_registered_under_its_own_name(tmp_path):
    register_atomic_backend()
    register_atomic_backend()  # idempotent
    backend = get_file_backend(
        str(tmp_path), backend_args=dict(backend=ATOMIC_BACKEND))
    assert type(backend) is AtomicLocalBackend
    # MMEngine's default for local paths is untouched.
    assert type(get_file_backend(str(tmp_path))) is LocalBackend
    backend.put(b'bytes', str(tmp_path / 'sub' / 'a.pth'))
    backend.put_text('text', str(tmp_path / 'b.txt'))
    assert backend.get(str(tmp_path / 'sub' / 'a.pth')) == b'bytes'
    assert backend.get_text(str(tmp_path / 'b.txt')) == 'text'
    assert _listing(tmp_path) == ['b.txt', 'sub']
    assert _listing(tmp_path / 'sub') == ['a.pth']
