"""Layer-wise lr decay on ReIDModel: the exact lr of every parameter."""
import pytest
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor

from mmpha.models import ReIDModel
from mmpha.registry import OPTIM_WRAPPER_CONSTRUCTORS

LR, RATE = 0.1, 0.5


def tiny_model(jpm=True):
    backbone = dict(
        type='TransReIDViT',
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=(64, 32),
        camera_num=2)
    return ReIDModel(
        backbone=backbone,
        head=dict(type='ReIDHead', num_classes=4),
        jpm=dict(type='JPM', num_parts=2, shift=1, shuffle_groups=2)
        if jpm else None)


def build(model, paramwise_cfg):
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(
            type='ReIDLayerDecayOptimWrapperConstructor',
            optim_wrapper_cfg=dict(
                optimizer=dict(type='SGD', lr=LR, weight_decay=1e-4)),
            paramwise_cfg=paramwise_cfg))
    wrapper = constructor(model)
    return {g['param_name']: g for g in wrapper.optimizer.param_groups}


def test_exact_lr_per_parameter():
    model = tiny_model()
    groups = build(model, dict(layer_decay_rate=RATE))
    # L = 2 blocks: depth 0 (stem) -> RATE**3, block i -> RATE**(2 - i),
    # JPM's copy of block 1 -> RATE, final norm / head -> 1.
    expected = {
        'backbone.cls_token': LR * 0.125,
        'backbone.pos_embed': LR * 0.125,
        'backbone.sie_embed': LR * 0.125,
        'backbone.patch_embed.projection.weight': LR * 0.125,
        'backbone.layers.0.attn.qkv.weight': LR * 0.25,
        'backbone.layers.0.ln1.bias': LR * 0.25,
        'backbone.layers.1.ffn.layers.1.weight': LR * 0.5,
        'jpm.block.attn.qkv.weight': LR * 0.5,
        'jpm.norm.weight': LR,
        'backbone.ln1.weight': LR,
        'head.bnnecks.0.weight': LR,
        'head.classifiers.1.weight': LR,
    }
    for name, lr in expected.items():
        assert groups[name]['lr'] == pytest.approx(lr), name
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == trainable


def test_custom_key_lr_mult_applies_on_top():
    groups = build(
        tiny_model(jpm=False),
        dict(layer_decay_rate=RATE, custom_keys={'bias': dict(lr_mult=2.0)}))
    assert groups['backbone.layers.0.attn.qkv.bias']['lr'] == pytest.approx(
        LR * 0.25 * 2)
    assert groups['backbone.layers.0.attn.qkv.weight']['lr'] == \
        pytest.approx(LR * 0.25)
    assert 'lr_mult' not in groups['backbone.layers.0.attn.qkv.bias']


def test_mmpretrain_constructor_does_not_fit_and_cnn_is_refused():
    plain = LearningRateDecayOptimWrapperConstructor(
        dict(optimizer=dict(type='SGD', lr=LR)), dict(layer_decay_rate=RATE))
    with pytest.raises(NotImplementedError, match='get_layer_depth'):
        plain(tiny_model(jpm=False))
    cnn = ReIDModel(
        backbone=dict(type='mmpretrain.ResNet', depth=18),
        head=dict(type='ReIDHead', num_classes=4, in_channels=512))
    with pytest.raises(ValueError, match='backbone.layers'):
        build(cnn, dict(layer_decay_rate=RATE))
