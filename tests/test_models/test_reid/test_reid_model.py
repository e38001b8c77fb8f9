import copy
import os.path as osp

import pytest
import timm
import torch

from mmpha.models import ReIDModel
from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample

C = 32
IMG = (64, 32)  # stride 12 -> 5x2 grid, 10 patch tokens
CFG = dict(
    type='ReIDModel',
    backbone=dict(
        type='TransReIDViT',
        arch=dict(
            embed_dims=C, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=IMG,
        stride=12,
        camera_num=3,
        drop_path_rate=0.1),
    head=dict(type='TransReIDHead', num_classes=4))


def build(**overrides) -> ReIDModel:
    cfg = copy.deepcopy(CFG)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(labels=(0, 0, 1, 1, 2, 2), seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, *IMG), dtype=torch.uint8, generator=gen)
        for _ in labels
    ]
    data_samples = [
        ReIDDataSample().set_gt_label(label).set_cam_id(i % 3).set_view_id(0)
        for i, label in enumerate(labels)
    ]
    return dict(inputs=inputs, data_samples=data_samples)


@pytest.mark.parametrize('jpm', [True, False])
def test_loss_keys_and_every_parameter_gets_gradient(jpm):
    model = build(head=dict(jpm=jpm)).train()
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_triplet', 'accuracy'}
    total, log_vars = model.parse_losses(losses)
    assert 'accuracy' in log_vars and torch.isfinite(total)
    total.backward()
    trainable = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
    no_grad = [n for n, p in trainable if p.grad is None]
    assert no_grad == [], f'parameters without gradient: {no_grad}'
    assert any(n.startswith('head.jpm_block') for n, _ in trainable) == jpm
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(
        n.endswith('bias') and 'bnnecks' in n for n in frozen)


@pytest.mark.parametrize('jpm, dim', [(True, 5 * C), (False, C)])
def test_predict_sets_pred_feature(jpm, dim):
    model = build(head=dict(jpm=jpm)).eval()
    data = model.data_preprocessor(batch(), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
        tensor = model(**data, mode='tensor')
    assert model.feat_dim == dim
    assert len(out) == 6 and all(isinstance(s, ReIDDataSample) for s in out)
    assert out[0] is data['data_samples'][0]
    assert out[0].pred_feature.shape == (dim, )
    torch.testing.assert_close(
        torch.stack([s.pred_feature for s in out]), tensor)


def test_flip_test_averages_mirror():
    model = build().eval()
    data = model.data_preprocessor(batch(), training=False)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        plain = model.extract_feat(inputs, samples)
        mirrored = model.extract_feat(inputs.flip(-1), samples)
        model.flip_test = True
        flipped = model.extract_feat(inputs, samples)
    torch.testing.assert_close(flipped, (plain + mirrored) / 2)
    assert not torch.allclose(flipped, plain)


def test_forward_tokens_uses_camera_ids():
    model = build().eval()
    data = model.data_preprocessor(batch(), training=False)
    inputs, samples = data['inputs'], data['data_samples']
    tokens = model.forward_tokens(inputs, samples)
    assert tokens.shape == (6, 1 + 10, C)
    cams = torch.tensor([s.cam_id for s in samples])
    expected = model.backbone.forward_blocks(
        model.backbone.embed(inputs, cam_ids=cams))
    torch.testing.assert_close(tokens, expected)
    with pytest.raises(ValueError, match='no data_samples'):
        model.forward_tokens(inputs)
    with pytest.raises(ValueError, match='no cam_id'):
        model.forward_tokens(inputs, [ReIDDataSample() for _ in samples])


def test_init_weights_syncs_jpm_from_pretrained(tmp_path):
    ref = timm.models.vision_transformer.VisionTransformer(
        img_size=64,
        patch_size=16,
        embed_dim=C,
        depth=2,
        num_heads=2,
        mlp_ratio=2.0)
    path = osp.join(tmp_path, 'vit.safetensors')
    from safetensors.torch import save_file
    save_file(ref.state_dict(), path)
    model = build(
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=path)))
    torch.testing.assert_close(model.backbone.blocks[-1].attn.qkv.weight,
                               ref.blocks[-1].attn.qkv.weight)
    torch.testing.assert_close(model.head.jpm_block.attn.qkv.weight,
                               ref.blocks[-1].attn.qkv.weight)
    torch.testing.assert_close(model.head.jpm_norm.weight, ref.norm.weight)
    # A copy, not the same module: the two branches train separately.
    assert model.head.jpm_block is not model.backbone.blocks[-1]


def test_head_in_channels_and_mode_checks():
    with pytest.raises(ValueError, match='in_channels=16 differs'):
        build(head=dict(in_channels=16))
    model = build()
    assert model.head.in_channels == C
    with pytest.raises(RuntimeError, match="mode must be 'tensor'"):
        model(torch.zeros(1, 3, *IMG), mode='train')
    assert type(model.data_preprocessor).__name__ == 'ReIDDataPreprocessor'
