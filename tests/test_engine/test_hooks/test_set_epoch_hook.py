"""SetEpochHook: the 1-based epoch reaches the model, also after a resume."""
import os.path as osp
import uuid

import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmpha.engine.hooks import SetEpochHook
from mmpha.registry import DATASETS, MODELS


@MODELS.register_module(force=True)
class _EpochProbe(BaseModel):
    """Records, at every training step, the epoch the hook set."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.epoch = None
        self.seen = []

    def set_epoch(self, epoch):
        self.epoch = epoch

    def forward(self, inputs, mode='loss'):
        self.seen.append(self.epoch)
        return dict(loss=self.linear(inputs).pow(2).mean())


@DATASETS.register_module(force=True)
class _EpochProbeData(Dataset):
    metainfo = dict()

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)))


def _probe_cfg(work_dir, max_epochs):
    return dict(
        model=dict(type='_EpochProbe'),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dict(type='_EpochProbeData'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmpha',
        custom_hooks=[dict(type='SetEpochHook')],
        # unique: runners built within one second share logger/visualizer
        experiment_name=f'pha_probe_{uuid.uuid4().hex[:12]}',
        log_level='WARNING')


def test_epoch_is_right_during_training_and_after_a_resume(tmp_path):
    first = Runner.from_cfg(_probe_cfg(osp.join(tmp_path, 'a'), 3))
    first.train()
    assert first.model.seen == [1, 1, 2, 2, 3, 3]

    cfg = _probe_cfg(osp.join(tmp_path, 'b'), 5)
    cfg.update(resume=True, load_from=osp.join(tmp_path, 'a', 'epoch_2.pth'))
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    # Resumed after two finished epochs: the next one is epoch 3.
    assert resumed.model.seen == [3, 3, 4, 4, 5, 5]


def test_models_without_set_epoch_are_left_alone():

    class _Runner:
        epoch = 3
        model = torch.nn.Linear(1, 1)

    SetEpochHook().before_train_epoch(_Runner())  # no error, no attribute
    assert not hasattr(_Runner.model, 'set_epoch')


def test_default_runtime_keeps_every_custom_hook():
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(__file__), '..', '..', '..', 'configs', '_base_',
            'default_runtime.py'))
    assert [h['type'] for h in cfg.custom_hooks
            ] == ['NaNGuardHook', 'RNGStateHook', 'SetEpochHook']
