"""Resuming an mmpha run (mmpha's ReIDRunner, as the tools build it)
restores epoch, iteration, optimiser, scheduler and message-hub state,
through mmpha's weights-only checkpoint loader."""
import copy
import os.path as osp
import uuid

import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmpha.engine import ReIDRunner
from mmpha.registry import DATASETS, MODELS
from mmpha.utils.checkpoint import load_local_checkpoint


@MODELS.register_module(force=True)
class _ResumeToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, inputs, targets, mode='loss'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss_mse=(out - targets).pow(2).mean())
        return out


@DATASETS.register_module(force=True)
class _ResumeToyDataset(Dataset):
    metainfo = dict()

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 4, generator=gen)
        self.y = torch.randn(16, 2, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], targets=self.y[idx])


def _cfg(work_dir, max_epochs=4):
    return dict(
        model=dict(type='_ResumeToyModel'),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dict(type='_ResumeToyDataset'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(
                type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)),
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=True,
                begin=0,
                end=2,
                convert_to_iter_based=True),
            dict(
                type='CosineAnnealingLR',
                by_epoch=True,
                begin=2,
                end=max_epochs,
                eta_min=1e-3,
                convert_to_iter_based=True)
        ],
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=7),
        default_scope='mmpha',
        # unique: runners built within one second share logger/visualizer
        experiment_name=f'resume_{uuid.uuid4().hex[:12]}',
        log_level='WARNING')


def test_resume_continues_exactly(tmp_path):
    full_dir = osp.join(tmp_path, 'full')
    full = ReIDRunner.from_cfg(_cfg(full_dir))
    full.train()
    final_full = copy.deepcopy(full.model.state_dict())

    # Resume from the epoch-2 checkpoint of the same run in a new runner.
    cfg = _cfg(osp.join(tmp_path, 'resumed'))
    cfg['resume'] = True
    cfg['load_from'] = osp.join(full_dir, 'epoch_2.pth')
    resumed = ReIDRunner.from_cfg(cfg)
    resumed._train_loop = resumed.build_train_loop(resumed._train_loop)
    resumed.optim_wrapper = resumed.build_optim_wrapper(resumed.optim_wrapper)
    resumed.scale_lr(resumed.optim_wrapper, resumed.auto_scale_lr)
    resumed.param_schedulers = resumed.build_param_scheduler(
        resumed.param_schedulers)
    resumed.load_or_resume()

    saved = load_local_checkpoint(cfg['load_from'])
    assert resumed.epoch == 2 == saved['meta']['epoch']
    assert resumed.iter == 8 == saved['meta']['iter']
    opt_state = resumed.optim_wrapper.state_dict()
    assert opt_state['param_groups'][0]['lr'] == \
        saved['optimizer']['param_groups'][0]['lr']
    for key, value in saved['optimizer']['state'].items():
        assert torch.equal(opt_state['state'][key]['momentum_buffer'],
                           value['momentum_buffer'])
    sched_states = [s.state_dict() for s in resumed.param_schedulers]
    assert sched_states == saved['param_schedulers']
    assert resumed.message_hub.get_scalar('train/loss').data[0].tolist() == \
        saved['message_hub']['log_scalars']['train/loss'].data[0].tolist()

    # Continuing the resumed run ends where the uninterrupted one ended.
    cfg2 = _cfg(osp.join(tmp_path, 'resumed2'))
    cfg2['resume'] = True
    cfg2['load_from'] = osp.join(full_dir, 'epoch_2.pth')
    cont = ReIDRunner.from_cfg(cfg2)
    cont.train()
    assert cont.epoch == 4 and cont.iter == 16
    for key, value in cont.model.state_dict().items():
        torch.testing.assert_close(value, final_full[key], rtol=0, atol=1e-6)
