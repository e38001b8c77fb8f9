import copy
import os.path as osp

import pytest
import timm
import torch

from mmpha.models import BackboneFeatures, ReIDModel
from mmpha.models.utils.key_mapping import LEGACY_KEY_PREFIXES
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
    jpm=dict(type='JPM'),
    head=dict(type='ReIDHead', num_classes=4))


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
    model = build(jpm=dict(type='JPM') if jpm else None).train()
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
    assert any(n.startswith('jpm.block') for n, _ in trainable) == jpm
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(
        n.endswith('bias') and 'bnnecks' in n for n in frozen)


@pytest.mark.parametrize('jpm, dim', [(True, 5 * C), (False, C)])
def test_predict_sets_pred_feature(jpm, dim):
    model = build(jpm=dict(type='JPM') if jpm else None).eval()
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


def test_extract_backbone_uses_camera_ids():
    model = build().eval()
    data = model.data_preprocessor(batch(), training=False)
    inputs, samples = data['inputs'], data['data_samples']
    feats = model.extract_backbone(inputs, samples)
    assert isinstance(feats, BackboneFeatures)
    assert feats.tokens.shape == (6, 1 + 10, C)
    assert feats.global_feat.shape == (6, C) and feats.feature_map is None
    cams = torch.tensor([s.cam_id for s in samples])
    expected = model.backbone.forward_blocks(
        model.backbone.embed(inputs, cam_ids=cams))
    torch.testing.assert_close(feats.tokens, expected)
    torch.testing.assert_close(feats.global_feat,
                               model.backbone.forward_last(expected)[:, 0])
    with pytest.raises(ValueError, match='no data_samples'):
        model.extract_backbone(inputs)
    with pytest.raises(ValueError, match='no cam_id'):
        model.extract_backbone(inputs, [ReIDDataSample() for _ in samples])


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
    torch.testing.assert_close(model.jpm.block.attn.qkv.weight,
                               ref.blocks[-1].attn.qkv.weight)
    torch.testing.assert_close(model.jpm.norm.weight, ref.norm.weight)
    # A copy, not the same module: the two branches train separately.
    assert model.jpm.block is not model.backbone.blocks[-1]


def test_head_in_channels_and_mode_checks():
    with pytest.raises(ValueError, match='in_channels=16 differs'):
        build(head=dict(in_channels=16))
    model = build()
    assert model.head.in_channels == C
    with pytest.raises(RuntimeError, match="mode must be 'tensor'"):
        model(torch.zeros(1, 3, *IMG), mode='train')
    assert type(model.data_preprocessor).__name__ == 'ReIDDataPreprocessor'


def test_no_jpm_without_config_and_head_feature_count_checked():
    model = build(jpm=None)
    assert model.jpm is None and model.head.num_features == 1
    assert not any(k.startswith('jpm.') for k in model.state_dict())
    with pytest.raises(
            ValueError, match='num_features=2, but the model has '
            '5 features'):
        build(head=dict(num_features=2))


def test_checkpoint_of_the_earlier_layout_loads_identically(monkeypatch):
    """JPM weights saved under head.jpm_* load into jpm.* (logged)."""
    model = build().eval()
    with torch.no_grad():
        model.jpm.block.attn.qkv.weight.add_(0.5)
    state = model.state_dict()
    old = {}
    for key, value in state.items():
        for old_prefix, new_prefix in LEGACY_KEY_PREFIXES:
            if key.startswith(new_prefix):
                key = old_prefix + key[len(new_prefix):]
                break
        old[key] = value
    assert 'head.jpm_block.attn.qkv.weight' in old
    assert 'head.jpm_shift' in old and 'jpm.jpm_shift' not in old
    fresh = build(jpm=dict(type='JPM', shift=2)).eval()
    messages = []
    monkeypatch.setattr('mmpha.models.utils.key_mapping.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    fresh.load_state_dict(old, strict=True)
    logged = '\n'.join(messages)
    assert 'earlier layout: renamed' in logged
    assert 'head.jpm_block.* -> jpm.block.*' in logged
    # The saved shift (5) wins over the config's (2).
    assert fresh.jpm.shift == 5
    data = model.data_preprocessor(batch(), training=False)
    with torch.no_grad():
        assert torch.equal(
            fresh.extract_feat(**data), model.extract_feat(**data))


TINY_RESNET = dict(
    type='ResNet',
    depth=18,
    base_channels=8,
    stem_channels=8,
    strides=(1, 2, 2, 1),
    out_indices=(3, ))


def _build_cnn(**overrides) -> ReIDModel:
    cfg = dict(copy.deepcopy(CFG), backbone=dict(TINY_RESNET), jpm=None)
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_cnn_backbone_trains_through_the_same_model():
    model = _build_cnn().train()
    assert model.head.in_channels == 64 and model.feat_dim == 64
    data = model.data_preprocessor(batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_triplet', 'accuracy'}
    total, _ = model.parse_losses(losses)
    total.backward()
    no_grad = [
        n for n, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ]
    assert no_grad == [], f'parameters without gradient: {no_grad}'
    feats = model.extract_backbone(data['inputs'])
    # 64x32 input, strides 2 (stem) x 2 (pool) x 1 x 2 x 2 x 1: 4x2 map.
    assert feats.feature_map.shape == (6, 64, 4, 2) and feats.tokens is None
    torch.testing.assert_close(feats.global_feat,
                               feats.feature_map.mean(dim=(2, 3)))
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch(), False), mode='predict')
    assert out[0].pred_feature.shape == (64, )


def test_jpm_needs_a_token_backbone():
    with pytest.raises(ValueError, match='ResNet has none'):
        _build_cnn(jpm=dict(type='JPM'))
