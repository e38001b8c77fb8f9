"""A NaN / Inf loss stops the run naming the loss term; the last good
checkpoint stays loadable."""
import os.path as osp

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from reliability_utils import tiny_cfg
from torch import nn

from mmpha.registry import MODELS
from mmpha.utils.checkpoint import load_local_checkpoint


@MODELS.register_module(force=True)
class _BadFromEpochLoss(nn.Module):
    """A triplet loss that turns into ``value`` from a given epoch on."""

    def __init__(self, epoch=2, value=float('nan')):
        super().__init__()
        self.loss = MODELS.build(dict(type='TripletLoss', margin=None))
        self.epoch = epoch
        self.value = value

    def forward(self, feats, labels):
        loss = self.loss(feats, labels)
        finished = MessageHub.get_current_instance().get_info('epoch') or 0
        if finished + 1 >= self.epoch:
            loss = loss * self.value
        return loss


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_non_finite_loss_stops_the_run(tmp_path, tiny_synthreid, repo_root,
                                       monkeypatch, value):
    monkeypatch.chdir(tmp_path)  # short paths: see reliability_utils
    cfg = tiny_cfg(
        repo_root,
        osp.relpath(tiny_synthreid),
        'work',
        max_epochs=3,
        algo='transreid',
        val_interval=100)
    cfg.model.head.loss_triplet = dict(
        type='_BadFromEpochLoss', epoch=2, value=value)
    runner = Runner.from_cfg(cfg)
    assert 'NaNGuardHook' in [type(hook).__name__ for hook in runner.hooks]
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert f'non-finite loss "loss_triplet" = {value}' in message
    assert 'loss_cls' not in message
    assert 'at epoch 2, iteration 1 of the epoch (global iteration 3)' in \
        message
    assert message.endswith('the run is stopped and the last checkpoint is '
                            f'{osp.abspath("work/epoch_1.pth")}')

    # The checkpoint before the bad iteration loads and holds finite weights;
    # the corrupted weights were never written.
    ckpt = load_local_checkpoint(osp.join('work', 'epoch_1.pth'))
    assert ckpt['meta']['epoch'] == 1
    weights = [v for v in ckpt['state_dict'].values() if v.is_floating_point()]
    assert weights and all(torch.isfinite(v).all() for v in weights)
    assert not osp.exists(osp.join('work', 'epoch_2.pth'))
    with open(osp.join('work', 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')
