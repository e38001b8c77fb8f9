"""The last_checkpoint pointer and the finiteness checks of checkpoints."""
import os
import os.path as osp
import shutil

import pytest
import torch
from torch import nn

from mmpha.utils import read_last_checkpoint, write_last_checkpoint
from mmpha.utils.checkpoint_files import (is_finite_checkpoint,
                                          last_finite_checkpoint,
                                          non_finite_in_module,
                                          non_finite_tensors, pointer_value)


def _ckpt(path, value=1.0):
    torch.save(dict(state_dict=dict(w=torch.full((3, ), value))), str(path))
    return str(path)


def test_pointer_is_relative_inside_and_absolute_outside(tmp_path):
    work = tmp_path / 'work'
    assert pointer_value(work, work / 'epoch_3.pth') == 'epoch_3.pth'
    assert pointer_value(work, work / 'ckpts' / 'work' /
                         'iter_9.pth') == 'ckpts/work/iter_9.pth'
    outside = tmp_path / 'elsewhere' / 'work' / 'epoch_3.pth'
    assert pointer_value(work, outside) == str(outside)
    # A sibling whose name starts like the work dir is outside it.
    assert pointer_value(work, tmp_path / 'work2' /
                         'a.pth') == str(tmp_path / 'work2' / 'a.pth')
    assert pointer_value(work, 's3://bucket/run/epoch_1.pth') == \
        's3://bucket/run/epoch_1.pth'


def test_written_pointer_resolves_after_the_work_dir_moves(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    assert read_last_checkpoint(work) is None
    _ckpt(work / 'epoch_2.pth')
    assert write_last_checkpoint(work, work / 'epoch_2.pth') == 'epoch_2.pth'
    assert (work / 'last_checkpoint').read_text() == 'epoch_2.pth'
    assert sorted(os.listdir(work)) == ['epoch_2.pth', 'last_checkpoint']
    shutil.move(str(work), str(tmp_path / 'moved'))
    assert read_last_checkpoint(tmp_path / 'moved') == str(tmp_path / 'moved' /
                                                           'epoch_2.pth')


def test_old_absolute_pointers_are_accepted(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    ckpt = _ckpt(work / 'epoch_1.pth')
    (work / 'last_checkpoint').write_text(ckpt + '\n')
    assert read_last_checkpoint(work) == ckpt
    # MMEngine's absolute pointer in a moved work dir: the file of the same
    # name in this work dir.
    shutil.move(str(work), str(tmp_path / 'moved'))
    assert read_last_checkpoint(tmp_path / 'moved') == str(tmp_path / 'moved' /
                                                           'epoch_1.pth')


def test_a_dangling_or_empty_pointer_is_an_error(tmp_path):
    (tmp_path / 'last_checkpoint').write_text('epoch_7.pth')
    with pytest.raises(FileNotFoundError) as info:
        read_last_checkpoint(tmp_path)
    assert str(info.value) == (
        f'the checkpoint pointer "{tmp_path / "last_checkpoint"}" names '
        f'"epoch_7.pth", but "{tmp_path / "epoch_7.pth"}" does not exist; '
        'pass the checkpoint to resume from explicitly')
    (tmp_path / 'last_checkpoint').write_text('/nowhere/epoch_7.pth')
    with pytest.raises(FileNotFoundError, match='"/nowhere/epoch_7.pth"'):
        read_last_checkpoint(tmp_path)
    (tmp_path / 'last_checkpoint').write_text(' \n')
    with pytest.raises(ValueError, match='is empty'):
        read_last_checkpoint(tmp_path)


def test_non_finite_tensors_names_float_tensors_in_order():
    pairs = [
        ('ok', torch.ones(3)),
        ('nan', torch.tensor([1.0, float('nan')])),
        ('count', torch.tensor([7])),  # integer: skipped
        ('inf', torch.tensor([[float('-inf')]], dtype=torch.float16)),
        ('cplx', torch.tensor([complex(float('nan'), 0)])),
        ('meta', 'not a tensor'),
    ]
    assert non_finite_tensors(pairs) == ['nan', 'inf', 'cplx']
    assert non_finite_tensors(pairs, limit=1) == ['nan']
    assert non_finite_tensors(pairs[:1]) == []


def test_non_finite_in_module_checks_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert non_finite_in_module(model) == []
    with torch.no_grad():
        model[0].bias[1] = float('nan')
    model[1].running_var[0] = float('inf')
    assert non_finite_in_module(model) == ['0.bias', '1.running_var']


def test_last_finite_checkpoint_skips_bad_and_broken_files(tmp_path):
    good = _ckpt(tmp_path / 'epoch_1.pth')
    newer = _ckpt(tmp_path / 'epoch_2.pth')
    bad = _ckpt(tmp_path / 'epoch_3.pth', float('nan'))
    broken = tmp_path / 'epoch_4.pth'
    broken.write_bytes(b'PK\x03\x04 truncated')
    for i, path in enumerate((good, newer, bad, broken)):
        os.utime(path, (1000 + i, 1000 + i))
    assert is_finite_checkpoint(good)
    assert not is_finite_checkpoint(bad)
    assert not is_finite_checkpoint(broken)
    assert not is_finite_checkpoint(tmp_path / 'missing.pth')
    assert last_finite_checkpoint([bad, str(broken)],
                                  [str(tmp_path)]) == osp.abspath(newer)
    assert last_finite_checkpoint([good], [str(tmp_path)]) == good
    assert last_finite_checkpoint([bad, None], []) is None
