"""The EMA recipe (configs/_base_/recipes/ema.py, MMEngine's EMAHook):
validation runs the averaged weights, checkpoints store them, and a tiny
re-ID training with it runs."""
import copy
import os.path as osp

import torch
from _tiny_reid import TRANSREID_CFG, run_tool, tiny_config
from _toy_runner import toy_runner
from mmengine.config import Config
from mmengine.hooks import EMAHook, Hook

from mmpha.utils.checkpoint import load_local_checkpoint

RECIPE = osp.join('configs', '_base_', 'recipes', 'ema.py')


def recipe_hooks(repo_root):
    return Config.fromfile(osp.join(repo_root, RECIPE)).custom_hooks


class _Probe(Hook):
    """Records training, EMA and validation weights."""
    priority = 'NORMAL'  # after EMAHook (49) swapped the weights in

    def __init__(self):
        self.train, self.ema, self.val = [], [], []

    def _ema(self, runner):
        hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
        return hook.ema_model.module.linear.weight.detach().clone()

    def after_train_epoch(self, runner):
        self.train.append(runner.model.linear.weight.detach().clone())
        self.ema.append(self._ema(runner))

    def before_val_epoch(self, runner):
        self.val.append(runner.model.linear.weight.detach().clone())


def test_recipe_keeps_default_hooks_and_adds_ema(repo_root):
    default = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    hooks = recipe_hooks(repo_root)
    assert hooks[:-1] == default.custom_hooks
    assert hooks[-1]['type'] == 'EMAHook'


def test_val_uses_and_checkpoint_stores_the_ema_weights(repo_root, tmp_path):
    ema_cfg = dict(recipe_hooks(repo_root)[-1], momentum=0.5)
    probe = _Probe()
    runner = toy_runner(
        str(tmp_path),
        max_epochs=2,
        scores=[1.0, 2.0],
        custom_hooks=[ema_cfg, probe])
    runner.train()
    assert len(probe.val) == 2
    for train_w, ema_w, val_w in zip(probe.train, probe.ema, probe.val):
        assert not torch.equal(train_w, ema_w)
        torch.testing.assert_close(val_w, ema_w)
    ckpt = load_local_checkpoint(osp.join(tmp_path, 'epoch_2.pth'))
    torch.testing.assert_close(ckpt['state_dict']['linear.weight'],
                               probe.ema[-1])
    torch.testing.assert_close(ckpt['ema_state_dict']['module.linear.weight'],
                               probe.train[-1])
    # After validation the training weights are back in the model.
    torch.testing.assert_close(runner.model.linear.weight, probe.train[-1])


def test_tiny_reid_training_with_ema(repo_root, tiny_data_root, tmp_path,
                                     monkeypatch):
    cfg = tiny_config(repo_root, TRANSREID_CFG, tiny_data_root,
                      str(tmp_path / 'work'))
    cfg.custom_hooks = copy.deepcopy(recipe_hooks(repo_root))
    # The tiny data has 2 training ids of 4 images: P = 2, K = 4.
    cfg.train_dataloader.batch_size = 8
    cfg.model.head.num_classes = 2
    # 2 epochs: the tiny schedule's cosine begins after a 1-epoch warm-up.
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, save_best=None)
    path = str(tmp_path / 'tiny_ema.py')
    cfg.dump(path)
    run_tool(repo_root, 'tools/train.py', [path], monkeypatch)
    ckpt = load_local_checkpoint(str(tmp_path / 'work' / 'epoch_2.pth'))
    assert set(
        ckpt['ema_state_dict']) == {'module.' + k
                                    for k in ckpt['state_dict']} | {'steps'}
    key = 'backbone.layers.0.attn.qkv.weight'
    assert not torch.equal(ckpt['state_dict'][key],
                           ckpt['ema_state_dict']['module.' + key])
