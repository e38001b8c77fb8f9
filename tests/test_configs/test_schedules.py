import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from mmpha.utils.config_check import resolve_scheduler_ends

SCHEDULE = 'configs/_base_/schedules/sgd_cosine_{}e.py'


class _Net(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        self.norm = torch.nn.LayerNorm(2)


def _lr_per_epoch(repo_root, epochs=120):
    cfg = Config.fromfile(osp.join(repo_root, SCHEDULE.format(epochs)))
    # The cosine's end=None ("the end of training") as the tools fill it.
    resolve_scheduler_ends(cfg.param_scheduler, cfg.train_cfg)
    net = _Net()
    wrapper = build_optim_wrapper(net, cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper))
        for s in cfg.param_scheduler
    ]
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        lrs.append({
            group['initial_lr'] / 0.008: group['lr']
            for group in wrapper.optimizer.param_groups
        })
        for scheduler in schedulers:
            scheduler.step()
    return cfg, net, wrapper, lrs


# The schedulers are stepped without training steps in between.
@pytest.mark.filterwarnings('ignore:Detected call of')
@pytest.mark.parametrize('epochs', [120, 200])
def test_sgd_cosine_recipe(repo_root, epochs):
    # 200 epochs (CUHK03) is the 120-epoch construction with only
    # max_epochs changed: the released code's warmup_t=5, t_initial=200.
    cfg, net, wrapper, lrs = _lr_per_epoch(repo_root, epochs)
    assert cfg.train_cfg.max_epochs == epochs
    optimizer = wrapper.optimizer
    assert isinstance(optimizer, torch.optim.SGD)
    assert cfg.auto_scale_lr.base_batch_size == 64
    base = 0.008
    for group in optimizer.param_groups:
        assert group['momentum'] == 0.9
        assert group['weight_decay'] == pytest.approx(1e-4)
    initial_lr = {
        name: group['initial_lr']
        for name, param in net.named_parameters()
        for group in optimizer.param_groups
        if any(param is p for p in group['params'])
    }
    # Every bias at 2x lr, the LayerNorm's included; weights at 1x.
    assert initial_lr == pytest.approx({
        'fc.weight': base,
        'fc.bias': 2 * base,
        'norm.weight': base,
        'norm.bias': 2 * base
    })

    # timm's CosineLRScheduler (warmup_t=5, warmup_lr_init=0.01 x lr,
    # t_initial=epochs, lr_min=0.002 x lr) stepped once per epoch.
    def timm_lr(epoch):
        if epoch < 5:
            return base * (0.01 + epoch * 0.99 / 5)
        return 0.002 * base + 0.5 * 0.998 * base * (
            1 + math.cos(math.pi * epoch / epochs))

    weight_lr = [lrs[e][1.0] for e in range(epochs)]
    bias_lr = [lrs[e][2.0] for e in range(epochs)]
    assert weight_lr[0] == pytest.approx(0.01 * base)
    for epoch in range(epochs):
        tol = 0.003 * base if epoch < 5 else 1e-5 * base
        assert abs(weight_lr[epoch] - timm_lr(epoch)) < tol, epoch
        assert bias_lr[epoch] == pytest.approx(2 * weight_lr[epoch])
    assert weight_lr[-1] == pytest.approx(
        timm_lr(epochs - 1), rel=1e-4) and weight_lr[-1] < 0.003 * base


LEAVES = sorted(
    p for p in glob.glob(
        osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
            'configs', '*', '*.py')) if '_base_' not in p)


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_every_leaf_takes_its_schedule_from_a_base(path):
    """Only the schedule bases set param_scheduler and the train loop."""
    text = open(path).read()
    cfg = Config.fromfile(path)
    if 'param_scheduler' not in cfg:
        return
    assert 'param_scheduler' not in text and 'optim_wrapper' not in text, (
        f'{path} restates a schedule: inherit configs/_base_/schedules/')


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_leaves_inherit_bases_not_other_algorithms_leaves(path):
    """A leaf's bases are under configs/_base_/; a variant (an ablation, a
    logging option) may inherit a leaf of its own folder, never another
    algorithm's leaf."""
    bases = Config._get_base_files(path)
    for base in bases:
        full = osp.normpath(osp.join(osp.dirname(path), base))
        in_base = osp.sep + '_base_' + osp.sep in full
        assert in_base or osp.dirname(full) == osp.dirname(path), (
            f'{path} inherits the leaf {base} of another folder')
