"""Every config under configs/ that defines a model builds and trains a step.

The model of each config is shrunk (2 blocks of width 32, 64x32 inputs, no
pretrained weights) so that the check takes well under a second per config;
datasets are not built. Configs added later (PHA, ablations) are picked up
by the glob.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict

from mmpha.engine import resolve_auto_sizes
from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(path, REPO_ROOT) for path in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True))
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TINY_SIZE = (64, 32)
P, K = 3, 2
#: Stand-ins for the sizes that a config reads from its train set ('auto').
AUTO_META = dict(num_classes=7, num_cameras=5, num_views=1)


def _replace_width(node, old: int, new: int) -> None:
    """Set every ``in_channels`` equal to the old width to the new one."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'in_channels' and value == old:
                node[key] = new
            else:
                _replace_width(value, old, new)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _replace_width(item, old, new)


def shrink(model_cfg: ConfigDict) -> ConfigDict:
    """A tiny version of a model config with the same structure."""
    cfg = copy.deepcopy(model_cfg)
    backbone = cfg.backbone
    if backbone.type == 'ResNet':
        # A CNN: the same ResNet at depth 18 and width 8, random weights.
        backbone.update(
            depth=18, base_channels=8, stem_channels=8, init_cfg=None)
        return cfg
    old_arch = backbone.get('arch', 'base')
    if isinstance(old_arch, str):
        from mmpha.models import TransReIDViT
        old_width = TransReIDViT.arch_zoo[old_arch]['embed_dims']
    else:
        old_width = old_arch['embed_dims']
    backbone.arch = dict(TINY_ARCH)
    backbone.img_size = TINY_SIZE
    backbone.init_cfg = None
    _replace_width(cfg, old_width, TINY_ARCH['embed_dims'])
    return cfg


def _model_configs():
    params = []
    for path in CONFIGS:
        cfg = Config.fromfile(osp.join(REPO_ROOT, path))
        if 'model' in cfg:
            params.append(pytest.param(path, id=path))
    return params


def _batch(cfg: Config, num_classes: int):
    camera_num = cfg.model.backbone.get('camera_num', 0) or 1
    view_num = cfg.model.backbone.get('view_num', 0) or 1
    gen = torch.Generator().manual_seed(0)
    labels = [pid % num_classes for pid in range(P) for _ in range(K)]
    inputs = [
        torch.randint(
            0, 256, (3, *TINY_SIZE), dtype=torch.uint8, generator=gen)
        for _ in labels
    ]
    samples = [
        ReIDDataSample().set_gt_label(label).set_cam_id(
            i % camera_num).set_view_id(i % view_num)
        for i, label in enumerate(labels)
    ]
    return dict(inputs=inputs, data_samples=samples)


def test_configs_are_found():
    assert any('transreid' in path for path in CONFIGS)


@pytest.mark.parametrize('path', _model_configs())
def test_config_builds_and_runs_one_loss_step(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    resolve_auto_sizes(cfg.model, AUTO_META)
    model_cfg = shrink(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        # As Runner does: the top-level preprocessor fills the model's.
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()

    data = model.data_preprocessor(
        _batch(cfg, model.head.num_classes), training=True)
    losses = model(**data, mode='loss')
    assert losses and all(
        key.startswith('loss') or 'loss' not in key for key in losses)
    assert any(key.startswith('loss_') for key in losses), list(losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total), f'{path}: loss {total}'
    total.backward()
    no_grad = [
        name for name, param in model.named_parameters()
        if param.requires_grad and param.grad is None
    ]
    assert no_grad == [], f'{path}: parameters without gradient {no_grad}'

    model.eval()
    with torch.no_grad():
        out = model(
            **model.data_preprocessor(
                _batch(cfg, model.head.num_classes), training=False),
            mode='predict')
    assert out[0].pred_feature.shape == (model.head.feat_dim, )
