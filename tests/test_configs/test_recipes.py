"""The recipe switches under configs/_base_/recipes/ compose with a leaf
config and do what they say."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmpha.registry import MODELS

BASES = ('models/transreid_vit-small.py', 'datasets/market1501.py',
         'schedules/sgd_cosine_120e_warmup20_layer-decay.py',
         'recipes/freeze_patch_embed.py')


def compose(repo_root, tmp_path):
    bases = [osp.join(repo_root, 'configs', '_base_', b) for b in BASES]
    path = osp.join(tmp_path, 'leaf.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = {bases!r}\n')
    return Config.fromfile(path)


def test_layer_decay_and_freeze_recipes(repo_root, tmp_path):
    cfg = compose(repo_root, tmp_path)
    default = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    assert cfg.custom_hooks[:-1] == default.custom_hooks
    assert cfg.custom_hooks[-1] == dict(type='FreezePatchEmbedHook', epochs=1)

    cfg.model.backbone.update(
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=(64, 32),
        init_cfg=None)
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    lr = {g['param_name']: g['lr'] for g in wrapper.optimizer.param_groups}
    base, rate = 0.0004, 0.65
    # L = 2: block 0 is depth 1 of 4 -> rate ** 2; TransReID's bias lr x2
    # still applies; the head keeps the full lr.
    assert lr['backbone.layers.0.attn.qkv.weight'] == pytest.approx(base *
                                                                    rate**2)
    assert lr['backbone.layers.0.attn.qkv.bias'] == pytest.approx(2 * base *
                                                                  rate**2)
    assert lr['backbone.patch_embed.projection.weight'] == pytest.approx(
        base * rate**3)
    assert lr['head.classifiers.0.weight'] == pytest.approx(base)
