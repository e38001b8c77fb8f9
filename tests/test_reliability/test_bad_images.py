"""A corrupted image stops the run naming the file, or is skipped and
counted when the pipeline says so; what was written before stays intact."""
import glob
import os.path as osp
import shutil

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from reliability_utils import read_json_log, tiny_cfg

from mmpha.datasets.transforms import LoadReIDImage
from mmpha.registry import HOOKS
from mmpha.utils.checkpoint import load_local_checkpoint


def _copy_dataset(src, dst):
    shutil.copytree(src, dst)
    return dst


def _train_images(data_root):
    images = sorted(
        osp.abspath(path) for path in glob.glob(
            osp.join(data_root, 'bounding_box_train', '*.jpg')))
    assert len(images) == 16
    return images


def _corrupt(path):
    with open(path, 'wb') as f:
        f.write(b'\x00 this is not a JPEG \xff' * 8)


@HOOKS.register_module(force=True)
class _CorruptAfterEpochHook(Hook):
    """Damage files once an epoch and its checkpoint are done."""

    priority = 'LOWEST'

    def __init__(self, paths, epoch):
        self.paths = paths
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            for path in self.paths:
                _corrupt(path)


def test_corrupted_image_stops_the_run_naming_the_file(tmp_path,
                                                       tiny_synthreid,
                                                       repo_root, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short paths: see reliability_utils
    data_root = _copy_dataset(tiny_synthreid, 'data')
    images = _train_images(data_root)
    cfg = tiny_cfg(
        repo_root,
        data_root,
        'work',
        max_epochs=3,
        algo='transreid',
        val_interval=100)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='_CorruptAfterEpochHook', paths=images, epoch=1)
    ]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(OSError) as info:
        runner.train()
    message = str(info.value)
    assert 'cannot decode image file "' in message
    named = message.split('"')[1]
    assert osp.abspath(named) in images, message

    # Epoch 1's checkpoint and log are intact; nothing later was written.
    work = tmp_path / 'work'
    ckpt = load_local_checkpoint(str(work / 'epoch_1.pth'))
    assert ckpt['meta']['epoch'] == 1
    assert all(
        torch.isfinite(v).all() for v in ckpt['state_dict'].values()
        if v.is_floating_point())
    assert not osp.exists(work / 'epoch_2.pth')
    records = [r for r in read_json_log(str(work)) if 'loss' in r]
    assert [r['iter'] for r in records] == [1, 2]


def test_bad_images_are_skipped_with_a_warning_and_counted(
        tmp_path, tiny_synthreid, repo_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_root = _copy_dataset(tiny_synthreid, 'data')
    images = _train_images(data_root)
    bad = images[::4]  # one of each identity's four images
    for path in bad:
        _corrupt(path)
    cfg = tiny_cfg(
        repo_root,
        data_root,
        'work',
        max_epochs=1,
        algo='transreid',
        load=dict(type='LoadReIDImage', on_error='skip'),
        val_interval=100)
    LoadReIDImage.reset_skipped()
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    records = [r for r in read_json_log('work') if 'loss' in r]
    assert len(records) == 2
    assert all(r['loss'] == r['loss'] for r in records)  # no NaN
    skipped = LoadReIDImage.num_skipped
    assert skipped >= 1
    # Every skip is in the run's log, naming the file and the count.
    log_file = glob.glob(str(tmp_path / 'work' / '*' / '*.log'))[0]
    with open(log_file) as f:
        warnings = [
            line for line in f if 'skipped an unreadable image' in line
        ]
    assert len(warnings) == skipped
    bad_names = [osp.basename(path) for path in bad]
    assert all(
        any(f'{name}"' in line for name in bad_names) for line in warnings)
    assert f'{skipped} image(s) skipped so far' in warnings[-1]
