"""An interrupted run resumed with ``--resume`` ends where an uninterrupted
one ends; the same seed gives the same losses."""
import copy
import os.path as osp
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from reliability_utils import (BATCH, PHA_CONFIG, TINY_SPEC, K, read_json_log,
                               tiny_cfg)

from mmpha.registry import HOOKS, RUNNERS
from mmpha.utils import apply_run_options


def _build(cfg):
    """The runner the tools build (mmpha's ReIDRunner)."""
    return RUNNERS.build(cfg)


class _Interrupted(Exception):
    """Stands for the job being killed."""


@HOOKS.register_module(force=True)
class _StopAfterEpochHook(Hook):
    """Stop the run after an epoch, once its checkpoint is written."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise _Interrupted(f'stopped after epoch {self.epoch}')


def _train_module(repo_root):
    sys.path.insert(0, osp.join(repo_root, 'tools'))
    try:
        import train
    finally:
        sys.path.pop(0)
    return train


def _last_metric(runner, name):
    for key, buffer in runner.message_hub.log_scalars.items():
        if key.startswith('val/') and key.split('/')[-1] == name:
            return buffer.current()
    raise KeyError(f'no val/{name} in {list(runner.message_hub.log_scalars)}')


def _state(runner):
    return copy.deepcopy(runner.model.state_dict())


@pytest.mark.slow
def test_resumed_run_matches_uninterrupted_run(tmp_path, tiny_synthreid,
                                               repo_root, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short paths: see reliability_utils
    data_root = osp.relpath(tiny_synthreid)

    # Validation at epochs 2 and 4: validating must not shift the random
    # streams of the training that follows.
    def cfg(work_dir):
        return tiny_cfg(
            repo_root, data_root, work_dir, max_epochs=4, val_interval=2)

    full = _build(cfg('full'))
    full.train()
    full_state, full_map = _state(full), _last_metric(full, 'mAP')
    full_r1 = _last_metric(full, 'R1')
    full_log = [r for r in read_json_log(full.work_dir) if 'loss' in r]

    # The same run, killed after the epoch-2 checkpoint.
    stopped_cfg = cfg('stopped')
    stopped_cfg.custom_hooks = list(stopped_cfg.get(
        'custom_hooks', [])) + [dict(type='_StopAfterEpochHook', epoch=2)]
    with pytest.raises(_Interrupted):
        _build(stopped_cfg).train()
    ckpt = osp.join('stopped', 'epoch_2.pth')
    assert osp.isfile(ckpt)
    assert not osp.exists(osp.join('stopped', 'epoch_3.pth'))

    # Continued as from the command line: tools/train.py CONFIG --resume PATH
    train = _train_module(repo_root)
    config_file = 'tiny.py'
    cfg('stopped').dump(config_file)
    monkeypatch.setattr(sys, 'argv',
                        ['train.py', config_file, '--resume', ckpt])
    args = train.parse_args()
    resumed_cfg = train.merge_args(cfg('stopped'), args)
    assert resumed_cfg.resume is True and resumed_cfg.load_from == ckpt
    resumed = _build(resumed_cfg)
    resumed.train()

    assert resumed.epoch == full.epoch == 4
    assert resumed.iter == full.iter
    resumed_state = _state(resumed)
    assert set(resumed_state) == set(full_state)
    for key, value in full_state.items():
        torch.testing.assert_close(
            resumed_state[key], value, rtol=0, atol=1e-6, msg=key)
    assert _last_metric(resumed, 'mAP') == pytest.approx(full_map, abs=1e-6)
    assert _last_metric(resumed, 'R1') == pytest.approx(full_r1, abs=1e-6)
    # The epoch-3 and 4 losses of the resumed run are the full run's.
    resumed_log = [
        r for r in read_json_log('stopped') if 'loss' in r and r['epoch'] > 2
    ]
    assert [r['loss'] for r in resumed_log
            ] == pytest.approx([r['loss'] for r in full_log if r['epoch'] > 2],
                               abs=1e-5)


@pytest.mark.slow
def test_same_seed_same_first_epoch_losses(tmp_path, tiny_synthreid, repo_root,
                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_root = osp.relpath(tiny_synthreid)

    def first_epoch_losses(work_dir, seed):
        runner = _build(
            tiny_cfg(
                repo_root,
                data_root,
                work_dir,
                max_epochs=1,
                seed=seed,
                val_interval=100))
        runner.train()
        records = [r for r in read_json_log(runner.work_dir) if 'loss' in r]
        assert [r['iter'] for r in records] == [1, 2]
        return [{
            k: v
            for k, v in r.items() if k.startswith('loss')
        } for r in records]

    first = first_epoch_losses('a', seed=3)
    second = first_epoch_losses('b', seed=3)
    other = first_epoch_losses('c', seed=4)
    assert set(first[0]) >= {'loss', 'loss_cls', 'loss_triplet', 'loss_pc_bc'}
    # Identical, not merely close: same seed, deterministic algorithms.
    assert first == second
    assert first != other


@pytest.mark.slow
def test_shipped_tiny_config_resumes_exactly_with_its_dataloader(
        tmp_path, tiny_synthreid, repo_root, monkeypatch):
    """The shipped tiny PHA config, resumed after epoch 1 with
    ``tools/train.py --resume``, ends where the uninterrupted run ends.

    Only the data, the model width and the epoch count are shrunk; the
    dataloader keeps the config's workers and worker persistence, whose
    random state is what a resume used to lose (4.5e-3 max weight
    difference here with ``persistent_workers=True``).
    """
    monkeypatch.chdir(tmp_path)
    data_root = osp.relpath(tiny_synthreid)
    shipped = Config.fromfile(osp.join(repo_root, PHA_CONFIG)).train_dataloader
    assert shipped.num_workers > 0

    def cfg(work_dir):
        c = Config.fromfile(osp.join(repo_root, PHA_CONFIG))
        c.train_dataloader.dataset.update(
            data_root=data_root, spec=dict(TINY_SPEC), serialize_data=False)
        options = {
            'train_cfg.max_epochs':
            2,
            'train_dataloader.batch_size':
            BATCH,
            'train_dataloader.batch_sampler.num_instances':
            K,
            'model.backbone.arch':
            dict(
                embed_dims=32,
                num_layers=2,
                num_heads=2,
                feedforward_channels=64),
            'model.backbone.camera_num':
            TINY_SPEC['num_cameras'],
            'model.head.num_classes':
            TINY_SPEC['num_train_ids'],
            'default_hooks.checkpoint.interval':
            1,
            'experiment_name':
            f'shipped_{work_dir}_{uuid.uuid4().hex[:8]}',
            'log_level':
            'WARNING',
        }
        apply_run_options(c, PHA_CONFIG, options, work_dir=work_dir)
        c.val_cfg = c.val_dataloader = c.val_evaluator = None
        return c

    full_cfg = cfg('full')
    for key in ('num_workers', 'persistent_workers'):
        assert full_cfg.train_dataloader.get(key) == shipped.get(key), key
    # The cosine followed the 2 epochs.
    assert full_cfg.param_scheduler[-1].end == 2
    full = _build(full_cfg)
    full.train()
    full_state = _state(full)

    stopped_cfg = cfg('stopped')
    stopped_cfg.custom_hooks = list(stopped_cfg.get(
        'custom_hooks', [])) + [dict(type='_StopAfterEpochHook', epoch=1)]
    with pytest.raises(_Interrupted):
        _build(stopped_cfg).train()

    train = _train_module(repo_root)
    monkeypatch.setattr(sys, 'argv', ['train.py', PHA_CONFIG, '--resume'])
    resumed_cfg = train.merge_args(cfg('stopped'), train.parse_args())
    resumed = _build(resumed_cfg)
    resumed.train()
    assert resumed.epoch == 2 and resumed.iter == full.iter
    resumed_state = _state(resumed)
    diff = max((resumed_state[k].float() - v.float()).abs().max().item()
               for k, v in full_state.items())
    assert diff <= 1e-6, f'max weight difference {diff:.3g}'
