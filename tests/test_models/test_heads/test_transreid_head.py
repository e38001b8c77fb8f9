import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmpha.models import (MarginClassifier, TransReIDHead, jpm_rearrange,
                          triplet_loss)
from mmpha.structures import ReIDDataSample

C = 16


def make_head(**kwargs) -> TransReIDHead:
    cfg = dict(num_classes=5, in_channels=C)
    cfg.update(kwargs)
    head = TransReIDHead(**cfg)
    torch.manual_seed(0)
    block = TransformerEncoderLayer(C, 2, 32)
    head.init_jpm(block, torch.nn.LayerNorm(C))
    head.init_weights()
    return head


def samples(labels):
    return [ReIDDataSample().set_gt_label(int(label)) for label in labels]


def test_rearrange_hand_made():
    tokens = torch.arange(10.).reshape(1, 10, 1)
    out = jpm_rearrange(tokens, shift=2, groups=2).flatten().tolist()
    # Shift: [2..9, 0, 1]; chunks [2..6] and [7, 8, 9, 0, 1], interleaved.
    assert out == [2, 7, 3, 8, 4, 9, 5, 0, 6, 1]
    odd = torch.arange(7.).reshape(1, 7, 1)
    out = jpm_rearrange(odd, shift=1, groups=2).flatten().tolist()
    # [1..6, 0] padded with its last token to 8, then interleaved.
    assert out == [1, 5, 2, 6, 3, 0, 4, 0]
    assert jpm_rearrange(tokens, 0, 1).flatten().tolist() == list(range(10))


def test_forward_jpm_equals_part_by_part():
    head = make_head(num_parts=4, shift=3, shuffle_groups=2).eval()
    tokens = torch.randn(3, 1 + 18, C)
    local = head.forward_jpm(tokens)
    assert len(local) == 4 and all(f.shape == (3, C) for f in local)
    shuffled = jpm_rearrange(tokens[:, 1:], 3, 2)
    part_len = 18 // 4
    for i, feat in enumerate(local):
        part = shuffled[:, i * part_len:(i + 1) * part_len]
        seq = torch.cat([tokens[:, :1], part], dim=1)
        expected = head.jpm_norm(head.jpm_block(seq))[:, 0]
        torch.testing.assert_close(feat, expected, atol=1e-5, rtol=1e-5)


def test_forward_jpm_without_rearrange_uses_raster_parts():
    head = make_head(num_parts=2, rearrange=False).eval()
    tokens = torch.randn(2, 1 + 6, C)
    local = head.forward_jpm(tokens)
    seq = torch.cat([tokens[:, :1], tokens[:, 4:7]], dim=1)
    torch.testing.assert_close(local[1],
                               head.jpm_norm(head.jpm_block(seq))[:, 0])


def test_jpm_errors():
    head = TransReIDHead(num_classes=5, in_channels=C)
    with pytest.raises(RuntimeError, match='init_jpm'):
        head.forward_jpm(torch.randn(1, 9, C))
    with pytest.raises(ValueError, match='cannot be cut'):
        make_head(num_parts=4).forward_jpm(torch.randn(1, 3, C))
    assert make_head(jpm=False).forward_jpm(torch.randn(1, 9, C)) == []


def test_init_and_sync_jpm():
    head = TransReIDHead(num_classes=5, in_channels=C)
    block, norm = TransformerEncoderLayer(C, 2, 32), torch.nn.LayerNorm(C)
    head.init_jpm(block, norm)
    assert head.jpm_block is not block
    param = head.jpm_block.attn.qkv.weight
    with torch.no_grad():
        block.attn.qkv.weight.add_(1.0)
        norm.weight.fill_(3.0)
    assert not torch.equal(param, block.attn.qkv.weight)
    head.sync_jpm(block, norm)
    # Same Parameter object (an optimizer holding it stays valid).
    assert head.jpm_block.attn.qkv.weight is param
    torch.testing.assert_close(param, block.attn.qkv.weight)
    assert torch.all(head.jpm_norm.weight == 3.0)


def test_bnneck_and_classifier_structure():
    head = make_head()
    assert head.num_features == 5 and head.feat_dim == 5 * C
    for bnneck in head.bnnecks:
        assert not bnneck.bias.requires_grad
        assert torch.all(bnneck.bias == 0) and torch.all(bnneck.weight == 1)
    for classifier in head.classifiers:
        assert classifier.bias is None
        assert classifier.weight.std().item() == pytest.approx(0.001, 0.3)


def test_loss_keys_and_values():
    head = make_head(global_weight=0.5, local_weight=0.5).train()
    torch.manual_seed(3)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    global_feat = torch.randn(6, C, requires_grad=True)
    local_feats = [torch.randn(6, C) for _ in range(4)]
    losses = head.loss(global_feat, local_feats, samples(labels))
    assert set(losses) == {'loss_cls', 'loss_triplet', 'accuracy'}

    feats = [global_feat] + local_feats
    ce, tri = [], []
    for i, feat in enumerate(feats):
        mean, var = feat.mean(0), feat.var(0, unbiased=False)
        bn = (feat - mean) / torch.sqrt(var + 1e-5)
        ce.append(F.cross_entropy(bn @ head.classifiers[i].weight.t(), labels))
        tri.append(triplet_loss(feat, labels))
    expected_cls = 0.5 * ce[0] + 0.5 * torch.stack(ce[1:]).mean()
    expected_tri = 0.5 * tri[0] + 0.5 * torch.stack(tri[1:]).mean()
    torch.testing.assert_close(losses['loss_cls'], expected_cls)
    torch.testing.assert_close(losses['loss_triplet'], expected_tri)

    logits = F.batch_norm(
        global_feat, None, None,
        training=True) @ head.classifiers[0].weight.t()
    accuracy = (logits.argmax(1) == labels).float().mean() * 100
    torch.testing.assert_close(losses['accuracy'], accuracy)
    assert not losses['accuracy'].requires_grad


def test_every_trainable_parameter_gets_gradient():
    head = make_head().train()
    tokens = torch.randn(6, 1 + 12, C)
    global_feat = torch.randn(6, C, requires_grad=True)
    losses = head.loss(global_feat, head.forward_jpm(tokens),
                       samples([0, 0, 1, 1, 2, 2]))
    (losses['loss_cls'] + losses['loss_triplet']).backward()
    for name, param in head.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
        else:
            assert param.grad is None, name


def test_without_jpm_single_feature():
    head = make_head(jpm=False)
    assert head.jpm_block is None and head.num_features == 1
    labels = torch.tensor([0, 0, 1, 1])
    feat = torch.randn(4, C)
    losses = head.loss(feat, [], samples(labels))
    # No 0.5 factor with a single feature.
    torch.testing.assert_close(losses['loss_triplet'],
                               triplet_loss(feat, labels))
    assert head.predict_feature(feat).shape == (4, C)


def test_predict_feature_before_and_after():
    torch.manual_seed(4)
    global_feat = torch.randn(3, C)
    local_feats = [torch.randn(3, C) for _ in range(4)]
    head = make_head(neck_feat='before').eval()
    feat = head.predict_feature(global_feat, local_feats)
    assert feat.shape == (3, 5 * C)
    torch.testing.assert_close(feat[:, :C], global_feat)
    torch.testing.assert_close(feat[:, 2 * C:3 * C], local_feats[1] / 4)

    head = make_head(neck_feat='after').eval()
    with torch.no_grad():
        head.bnnecks[2].running_mean.fill_(1.0)
        head.bnnecks[2].running_var.fill_(4.0)
    feat = head.predict_feature(global_feat, local_feats)
    expected = (local_feats[1] - 1.0) / math.sqrt(4.0 + 1e-5) / 4
    torch.testing.assert_close(feat[:, 2 * C:3 * C], expected)

    out = head.predict(global_feat, local_feats)
    assert len(out) == 3 and out[0].pred_feature.shape == (5 * C, )
    with pytest.raises(ValueError, match='expected 5 features'):
        head.predict_feature(global_feat, local_feats[:2])


def test_label_smoothing_loss():
    head = make_head(
        jpm=False,
        loss_cls=dict(type='LabelSmoothLoss', label_smooth_val=0.1),
        loss_triplet=None)
    labels = torch.tensor([0, 1, 2, 3])
    losses = head.loss(torch.randn(4, C), [], samples(labels))
    assert set(losses) == {'loss_cls', 'accuracy'}
    assert losses['loss_cls'].item() > 0


@pytest.mark.parametrize('kind', ['cosface', 'arcface', 'circle'])
def test_margin_classifier(kind):
    torch.manual_seed(5)
    s, m = 10.0, 0.3
    classifier = MarginClassifier(C, 4, kind, scale=s, margin=m)
    x = torch.randn(3, C)
    labels = torch.tensor([0, 2, 3])
    cos = F.normalize(x) @ F.normalize(classifier.weight).t()
    torch.testing.assert_close(classifier(x), s * cos)
    logits = classifier(x, labels)
    target = F.one_hot(labels, 4).bool()
    if kind == 'cosface':
        expected = s * torch.where(target, cos - m, cos)
    elif kind == 'arcface':
        expected = s * torch.where(target, torch.cos(torch.acos(cos) + m), cos)
    else:
        pos = torch.clamp(1 + m - cos, min=0) * (cos - 1 + m)
        neg = torch.clamp(cos + m, min=0) * (cos - m)
        expected = s * torch.where(target, pos, neg)
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_margin_head_trains():
    head = make_head(cls_type='arcface', cls_scale=16.0)
    assert isinstance(head.classifiers[0], MarginClassifier)
    losses = head.loss(
        torch.randn(4, C), [torch.randn(4, C) for _ in range(4)],
        samples([0, 0, 1, 1]))
    losses['loss_cls'].backward()
    assert head.classifiers[3].weight.grad is not None


def test_invalid_arguments():
    with pytest.raises(ValueError, match="neck_feat must be 'before'"):
        TransReIDHead(num_classes=5, in_channels=C, neck_feat='middle')
    with pytest.raises(ValueError, match='cls_type'):
        TransReIDHead(num_classes=5, in_channels=C, cls_type='softmax')
    with pytest.raises(ValueError, match='in_channels is None'):
        TransReIDHead(num_classes=5)
    with pytest.raises(ValueError, match='num_parts must be an int >= 1'):
        TransReIDHead(num_classes=5, in_channels=C, num_parts=0)
    with pytest.raises(TypeError, match='loss_cls'):
        TransReIDHead(num_classes=5, in_channels=C, loss_cls=None)


def test_label_out_of_range_names_num_classes():
    head = make_head().train()
    feats = torch.randn(4, C)
    with pytest.raises(
            ValueError,
            match=r'label 7 is outside \[0, 5\).*'
            r'model\.head\.num_classes'):
        head.loss(feats, [torch.randn(4, C) for _ in range(4)],
                  samples([0, 0, 7, 7]))
