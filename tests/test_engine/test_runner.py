"""ReIDRunner: resuming refuses to start from nothing or to continue another
run; checkpoints load strictly; ``end=None`` schedules follow the loop."""
import copy
import glob
import math
import os
import os.path as osp
import shutil
import uuid

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmpha.engine import ReIDRunner, ResumeMismatchError
from mmpha.registry import DATASETS, HOOKS, MODELS
from mmpha.utils.state_dict_load import CheckpointMismatchError

ITERS_PER_EPOCH = 4  # 16 samples, batch 4


@MODELS.register_module(force=True)
class _RunnerToyModel(BaseModel):

    def __init__(self, width=2):
        super().__init__()
        self.linear = torch.nn.Linear(4, width)

    def forward(self, inputs, targets, mode='loss'):
        out = self.linear(inputs)[:, :2]
        if mode == 'loss':
            return dict(loss_mse=(out - targets).pow(2).mean())
        return out


@DATASETS.register_module(force=True)
class _RunnerToyDataset(Dataset):
    metainfo = dict()

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 4, generator=gen)
        self.y = torch.randn(16, 2, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], targets=self.y[idx])


class _Interrupted(Exception):
    """Stands for the job being killed."""


@HOOKS.register_module(force=True)
class _RunnerStopHook(Hook):
    priority = 'LOWEST'  # after the checkpoint of the epoch

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            raise _Interrupted(f'stopped after epoch {self.epoch}')


def _cfg(work_dir, max_epochs=4, **changes):
    cfg = dict(
        model=dict(type='_RunnerToyModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type='_RunnerToyDataset'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=True,
                begin=0,
                end=1,
                convert_to_iter_based=True),
            # The end of training.
            dict(
                type='CosineAnnealingLR',
                by_epoch=True,
                begin=1,
                end=None,
                eta_min=1e-3,
                convert_to_iter_based=True)
        ],
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=7),
        default_scope='mmpha',
        experiment_name=f'runner_{uuid.uuid4().hex[:12]}',
        log_level='WARNING')
    cfg.update(changes)
    return cfg


def _interrupted_run(work_dir, stop_after=2, max_epochs=4):
    cfg = _cfg(work_dir, max_epochs=max_epochs)
    cfg['custom_hooks'] = [dict(type='_RunnerStopHook', epoch=stop_after)]
    with pytest.raises(_Interrupted):
        ReIDRunner.from_cfg(cfg).train()
    assert osp.isfile(osp.join(work_dir, f'epoch_{stop_after}.pth'))


def _log_text(work_dir):
    logs = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    assert logs, f'no log under {work_dir}'
    return ''.join(open(p, encoding='utf-8').read() for p in logs)


def test_auto_resume_without_checkpoint_is_an_error(tmp_path):
    work = tmp_path / 'empty'
    with pytest.raises(FileNotFoundError, match='has no last_checkpoint') as e:
        ReIDRunner.from_cfg(_cfg(work, resume=True))
    assert str(work) in str(e.value)
    # Refused before the Runner existed: nothing was trained or written,
    # not even the work dir and its log.
    assert not work.exists()
    assert glob.glob(osp.join(work, '*.pth')) == []


def test_resume_or_scratch_starts_from_scratch_and_says_so(tmp_path):
    work = tmp_path / 'scratch'
    runner = ReIDRunner.from_cfg(
        _cfg(
            work,
            max_epochs=2,
            resume=True,
            resume_or_scratch=True,
            log_level='INFO'))
    runner.train()
    assert runner.epoch == 2 and runner.iter == 2 * ITERS_PER_EPOCH
    assert 'starting from scratch' in _log_text(work)
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))


def test_resume_from_missing_path_is_an_error(tmp_path):
    missing = str(tmp_path / 'nope' / 'epoch_3.pth')
    with pytest.raises(FileNotFoundError, match='does not exist') as e:
        ReIDRunner.from_cfg(
            _cfg(
                tmp_path / 'run',
                resume=True,
                resume_or_scratch=True,
                load_from=missing))
    assert missing in str(e.value)
    assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('pointer', ['relative', 'absolute'])
def test_moved_work_dir_resumes_from_its_own_files(tmp_path, pointer):
    old = tmp_path / 'old'
    _interrupted_run(old, stop_after=2)
    reference = ReIDRunner.from_cfg(_cfg(tmp_path / 'ref'))
    reference.train()
    if pointer == 'relative':
        (old / 'last_checkpoint').write_text('epoch_2.pth')
    else:  # MMEngine's hook writes the absolute path of the old location
        assert (old /
                'last_checkpoint').read_text().strip() == str(old /
                                                              'epoch_2.pth')
    new = tmp_path / 'new'
    shutil.move(str(old), str(new))
    resumed = ReIDRunner.from_cfg(_cfg(new, resume=True))
    resumed.train()
    assert not old.exists()
    assert resumed.epoch == 4 and resumed.iter == 4 * ITERS_PER_EPOCH
    # It continued from epoch 2 and ended where the uninterrupted run ends.
    for key, value in reference.model.state_dict().items():
        torch.testing.assert_close(
            resumed.model.state_dict()[key], value, rtol=0, atol=1e-6)


def test_resume_continues_exactly_with_end_none(tmp_path):
    _interrupted_run(tmp_path / 'a', stop_after=1)
    reference = ReIDRunner.from_cfg(_cfg(tmp_path / 'ref'))
    reference.train()
    resumed = ReIDRunner.from_cfg(_cfg(tmp_path / 'a', resume=True))
    resumed.train()
    for key, value in reference.model.state_dict().items():
        torch.testing.assert_close(
            resumed.model.state_dict()[key], value, rtol=0, atol=1e-6)


@pytest.mark.parametrize('change, expected', [
    (dict(max_epochs=6), [
        'train_cfg.max_epochs: 4 in the checkpoint, 6 now',
        'param_scheduler[1].end: 4 in the checkpoint, 6 now',
        'param_scheduler[1].T_max: 3 in the checkpoint, 5 now',
    ]),
    (dict(batch_size=8),
     ['train_dataloader.batch_size: 4 in the checkpoint, '
      '8 now']),
    (dict(shuffle=False), [
        'train_dataloader.sampler.shuffle: True in the '
        'checkpoint, False now'
    ]),
    (dict(lr=0.2),
     ['optim_wrapper.optimizer.lr: 0.1 in the checkpoint, '
      '0.2 now']),
    (dict(width=3), [
        'model.width: unset in the checkpoint, 3 now',
        'model weight linear.weight: (2, 4) in the checkpoint, (3, 4) now',
        'model weight linear.bias: (2,) in the checkpoint, (3,) now',
    ]),
])
def test_resume_with_another_config_names_the_keys(tmp_path, change, expected):
    _interrupted_run(tmp_path / 'a', stop_after=2)
    cfg = _cfg(
        tmp_path / 'a',
        max_epochs=change.get('max_epochs', 4),
        resume=True,
        # Keys that do not change the run are not compared.
        log_level='ERROR',
        load_from=str(tmp_path / 'a' / 'epoch_2.pth'))
    if 'batch_size' in change:
        cfg['train_dataloader']['batch_size'] = change['batch_size']
    if 'shuffle' in change:
        cfg['train_dataloader']['sampler']['shuffle'] = change['shuffle']
    if 'lr' in change:
        cfg['optim_wrapper']['optimizer']['lr'] = change['lr']
    if 'width' in change:
        cfg['model']['width'] = change['width']
    runner = ReIDRunner.from_cfg(cfg)
    with pytest.raises(ResumeMismatchError) as e:
        runner.train()
    message = str(e.value)
    for line in expected:
        assert line in message, message
    assert f'in {len(expected)} key(s)' in message, message
    for unrelated in ('work_dir', 'log_level', 'experiment_name', 'load_from',
                      'resume'):
        assert f'\n  {unrelated}' not in message
    # Nothing was written after the refusal.
    assert not osp.exists(osp.join(tmp_path, 'a', 'epoch_3.pth'))


def test_resume_anyway_continues_with_the_new_schedule(tmp_path):
    _interrupted_run(tmp_path / 'a', stop_after=2)
    saved = torch.load(
        osp.join(tmp_path, 'a', 'epoch_2.pth'), weights_only=False)
    runner = ReIDRunner.from_cfg(
        _cfg(tmp_path / 'a', max_epochs=6, resume=True, resume_anyway=True))
    runner.train()
    assert runner.epoch == 6 and runner.iter == 6 * ITERS_PER_EPOCH
    cosine = runner.param_schedulers[1]
    # The cosine ends with the new training; its progress came from the
    # checkpoint (then 4 more epochs).
    assert cosine.end == 6 * ITERS_PER_EPOCH
    assert cosine.T_max == 5 * ITERS_PER_EPOCH
    assert saved['param_schedulers'][1]['end'] == 4 * ITERS_PER_EPOCH
    full = ReIDRunner.from_cfg(_cfg(tmp_path / 'full6', max_epochs=6))
    full.train()
    assert cosine.last_step == full.param_schedulers[1].last_step
    assert cosine.last_step > saved['param_schedulers'][1]['last_step']
    assert 'resume_anyway' in _log_text(tmp_path / 'a')


def test_end_none_follows_max_epochs_and_bad_lengths_are_refused(tmp_path):
    runner = ReIDRunner.from_cfg(_cfg(tmp_path / 'e', max_epochs=3))
    assert runner.cfg.param_scheduler[1]['end'] == 3
    assert runner.cfg.param_scheduler[1]['T_max'] == 2
    assert runner.cfg.param_scheduler[0]['end'] == 1
    runner.train()
    cosine = runner.param_schedulers[1]
    assert (cosine.begin, cosine.end,
            cosine.T_max) == (ITERS_PER_EPOCH, 3 * ITERS_PER_EPOCH,
                              2 * ITERS_PER_EPOCH)
    # The last update (iteration 11) is step 7 of the 8-step cosine.
    expected = 1e-3 + (0.1 - 1e-3) * (1 + math.cos(math.pi * 7 / 8)) / 2
    assert runner.optim_wrapper.get_lr()['lr'][0] == pytest.approx(expected)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f'max_epochs .*got {bad}'):
            ReIDRunner.from_cfg(_cfg(tmp_path / f'b{bad}', max_epochs=bad))


def _save_model(model, path, extra=None, drop=None):
    state = copy.deepcopy(model.state_dict())
    state.update(extra or {})
    for key in drop or ():
        state.pop(key)
    torch.save({'state_dict': state, 'meta': {}}, path)
    return str(path)


def test_load_from_is_strict(tmp_path):
    source = ReIDRunner.from_cfg(_cfg(tmp_path / 's'))
    model = source.model
    ok = _save_model(model, tmp_path / 'ok.pth')
    extra = _save_model(
        model, tmp_path / 'extra.pth', extra={'head.weight': torch.zeros(3)})
    missing = _save_model(
        model, tmp_path / 'missing.pth', drop=['linear.bias'])
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'state_dict': {'a.b': torch.zeros(1)}}, foreign)

    def load(path, **kw):
        runner = ReIDRunner.from_cfg(
            _cfg(tmp_path / uuid.uuid4().hex[:6], load_from=path, **kw))
        runner.load_or_resume()
        return runner

    loaded = load(ok)
    torch.testing.assert_close(loaded.model.linear.weight, model.linear.weight)
    with pytest.raises(
            CheckpointMismatchError,
            match=r'2 of the model\'s 2 keys loaded; 0 missing.*'
            r'1 unexpected .*: head\.weight'):
        load(extra)
    with pytest.raises(
            CheckpointMismatchError, match=r'1 missing .*: linear\.bias'):
        load(missing)
    # Non-strict loads what matches...
    runner = load(missing, strict_load=False)
    torch.testing.assert_close(runner.model.linear.weight, model.linear.weight)
    # ... but never a checkpoint of another model.
    with pytest.raises(CheckpointMismatchError, match='no key of'):
        load(foreign, strict_load=False)
    assert os.path.exists(ok)


def _toy_loader_cfg(**kwargs):
    return dict(
        dataset=dict(type='_RunnerToyDataset'),
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=4,
        **kwargs)


def test_prefetch_of_a_base_is_dropped_without_workers():
    # The ViT-B dataset bases set prefetch_factor; num_workers=0 (a common
    # debugging override) must still build, without prefetching.
    loader = ReIDRunner.build_dataloader(
        _toy_loader_cfg(num_workers=0, prefetch_factor=4), seed=0)
    assert loader.num_workers == 0
    assert loader.prefetch_factor is None
    assert len(list(loader)) == ITERS_PER_EPOCH
    # With workers the setting is kept as configured.
    loader = ReIDRunner.build_dataloader(
        _toy_loader_cfg(num_workers=1, prefetch_factor=3), seed=0)
    assert loader.prefetch_factor == 3
