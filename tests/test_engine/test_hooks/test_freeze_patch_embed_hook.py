"""FreezePatchEmbedHook: fixed for the first N epochs, trained after, also
across a resume."""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmpha.engine.hooks import FreezePatchEmbedHook
from mmpha.registry import DATASETS, MODELS


@MODELS.register_module(force=True)
class _PatchProbe(BaseModel):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.patch_embed = nn.Linear(2, 2)
        self.backbone.head = nn.Linear(2, 1)

    def forward(self, inputs, mode='loss'):
        out = self.backbone.head(self.backbone.patch_embed(inputs))
        return dict(loss=(out - 1).pow(2).mean())


@DATASETS.register_module(force=True)
class _PatchProbeData(Dataset):
    metainfo = dict()

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([1.0 + idx, -0.5 * idx]))


class _Recorder(Hook):
    """Weights at the start and end of every epoch, requires_grad at every
    iteration."""

    def __init__(self):
        self.patch, self.head, self.grads = [], [], []

    def before_train_epoch(self, runner):
        model = runner.model
        self.patch.append(model.backbone.patch_embed.weight.detach().clone())
        self.head.append(model.backbone.head.weight.detach().clone())

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.grads.append(
            runner.model.backbone.patch_embed.weight.requires_grad)

    def after_train_epoch(self, runner):
        self.before_train_epoch(runner)


def _cfg(work_dir, max_epochs, recorder, **kwargs):
    return dict(
        model=dict(type='_PatchProbe'),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=dict(type='_PatchProbeData'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=2,
            num_workers=0),
        # Momentum and weight decay: a frozen weight must not move through
        # either.
        optim_wrapper=dict(
            optimizer=dict(
                type='SGD', lr=0.05, momentum=0.9, weight_decay=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmpha',
        custom_hooks=[FreezePatchEmbedHook(epochs=2), recorder],
        experiment_name=f'freeze_probe_{uuid.uuid4().hex[:12]}',
        log_level='WARNING',
        **kwargs)


def _moved(before, after):
    return not torch.equal(before, after)


def test_frozen_for_n_epochs_then_trained(tmp_path):
    rec = _Recorder()
    Runner(**_cfg(osp.join(tmp_path, 'a'), 3, rec)).train()
    # rec.patch holds (start, end) of each epoch.
    starts, ends = rec.patch[0::2], rec.patch[1::2]
    assert not _moved(starts[0], ends[0]) and not _moved(starts[1], ends[1])
    assert _moved(starts[2], ends[2])
    head_starts, head_ends = rec.head[0::2], rec.head[1::2]
    assert all(_moved(a, b) for a, b in zip(head_starts, head_ends))
    # 2 iterations an epoch: no gradient asked for in the first 4.
    assert rec.grads == [False] * 4 + [True] * 2


@pytest.mark.parametrize('resume_epoch,frozen_epochs', [(2, 0), (1, 1)])
def test_resume_is_correct(tmp_path, resume_epoch, frozen_epochs):
    Runner(**_cfg(osp.join(tmp_path, 'a'), 3, _Recorder())).train()
    rec = _Recorder()
    cfg = _cfg(
        osp.join(tmp_path, 'b'),
        4,
        rec,
        resume=True,
        load_from=osp.join(tmp_path, 'a', f'epoch_{resume_epoch}.pth'))
    Runner(**cfg).train()
    starts, ends = rec.patch[0::2], rec.patch[1::2]
    moved = [_moved(a, b) for a, b in zip(starts, ends)]
    assert moved == [False] * frozen_epochs + [True] * (4 - resume_epoch -
                                                        frozen_epochs)


def test_bad_arguments():
    with pytest.raises(ValueError, match='epochs must be an int >= 0'):
        FreezePatchEmbedHook(epochs=-1)

    class _Runner:
        epoch = 0
        model = nn.Linear(1, 1)

    with pytest.raises(ValueError, match='no module "backbone.patch_embed"'):
        FreezePatchEmbedHook(epochs=1).before_train_epoch(_Runner())
