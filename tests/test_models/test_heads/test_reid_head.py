import math

import pytest
import torch
import torch.nn.functional as F

from mmpha.models import MarginClassifier, ReIDHead, triplet_loss
from mmpha.structures import ReIDDataSample

C = 16


def make_head(**kwargs) -> ReIDHead:
    cfg = dict(num_classes=5, in_channels=C, num_features=5)
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = ReIDHead(**cfg)
    head.init_weights()
    return head


def samples(labels):
    return [ReIDDataSample().set_gt_label(int(label)) for label in labels]


def test_bnneck_and_classifier_structure():
    head = make_head()
    assert head.num_features == 5 and head.feat_dim == 5 * C
    assert head.feature_names == ('0', '1', '2', '3', '4')
    # Keys of the earlier TransReID head: bnnecks.i / classifiers.i.
    assert {k
            for k in head.state_dict() if k.endswith('weight')} == {
                f'{kind}.{i}.weight'
                for kind in ('bnnecks', 'classifiers')
                for i in range(5)
            }
    for bnneck in head.bnnecks.values():
        assert not bnneck.bias.requires_grad
        assert torch.all(bnneck.bias == 0) and torch.all(bnneck.weight == 1)
    for classifier in head.classifiers.values():
        assert classifier.bias is None
        assert classifier.weight.std().item() == pytest.approx(0.001, 0.3)


def test_shared_classifier_with_named_features():
    head = make_head(num_features=('x', 'xhf'), shared_classifier=True)
    assert set(head.bnnecks) == {'x', 'xhf'}
    assert not hasattr(head, 'classifiers')
    assert head.classifier_of('x') is head.classifier_of('xhf')
    assert 'classifier.weight' in head.state_dict()


def test_loss_keys_and_values():
    head = make_head(global_weight=0.5, local_weight=0.5).train()
    torch.manual_seed(3)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    global_feat = torch.randn(6, C, requires_grad=True)
    local_feats = [torch.randn(6, C) for _ in range(4)]
    losses = head.loss([global_feat, *local_feats], samples(labels))
    assert set(losses) == {'loss_cls', 'loss_triplet', 'accuracy'}

    feats = [global_feat] + local_feats
    ce, tri = [], []
    for i, feat in enumerate(feats):
        mean, var = feat.mean(0), feat.var(0, unbiased=False)
        bn = (feat - mean) / torch.sqrt(var + 1e-5)
        ce.append(
            F.cross_entropy(bn @ head.classifiers[str(i)].weight.t(), labels))
        tri.append(triplet_loss(feat, labels))
    expected_cls = 0.5 * ce[0] + 0.5 * torch.stack(ce[1:]).mean()
    expected_tri = 0.5 * tri[0] + 0.5 * torch.stack(tri[1:]).mean()
    torch.testing.assert_close(losses['loss_cls'], expected_cls)
    torch.testing.assert_close(losses['loss_triplet'], expected_tri)

    logits = F.batch_norm(
        global_feat, None, None,
        training=True) @ head.classifiers['0'].weight.t()
    accuracy = (logits.argmax(1) == labels).float().mean() * 100
    torch.testing.assert_close(losses['accuracy'], accuracy)
    assert not losses['accuracy'].requires_grad


def test_every_trainable_parameter_gets_gradient():
    head = make_head().train()
    feats = [torch.randn(6, C, requires_grad=True) for _ in range(5)]
    losses = head.loss(feats, samples([0, 0, 1, 1, 2, 2]))
    (losses['loss_cls'] + losses['loss_triplet']).backward()
    for name, param in head.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
        else:
            assert param.grad is None, name


def test_single_feature():
    head = make_head(num_features=1)
    labels = torch.tensor([0, 0, 1, 1])
    feat = torch.randn(4, C)
    losses = head.loss([feat], samples(labels))
    # No 0.5 factor with a single feature.
    torch.testing.assert_close(losses['loss_triplet'],
                               triplet_loss(feat, labels))
    assert head.predict_feature([feat]).shape == (4, C)


def test_predict_feature_before_and_after():
    torch.manual_seed(4)
    global_feat = torch.randn(3, C)
    local_feats = [torch.randn(3, C) for _ in range(4)]
    head = make_head(neck_feat='before').eval()
    feat = head.predict_feature([global_feat, *local_feats])
    assert feat.shape == (3, 5 * C)
    torch.testing.assert_close(feat[:, :C], global_feat)
    torch.testing.assert_close(feat[:, 2 * C:3 * C], local_feats[1] / 4)

    head = make_head(neck_feat='after').eval()
    with torch.no_grad():
        head.bnnecks['2'].running_mean.fill_(1.0)
        head.bnnecks['2'].running_var.fill_(4.0)
    feat = head.predict_feature([global_feat, *local_feats])
    expected = (local_feats[1] - 1.0) / math.sqrt(4.0 + 1e-5) / 4
    torch.testing.assert_close(feat[:, 2 * C:3 * C], expected)

    with pytest.raises(ValueError, match='expected 5 features'):
        head.predict_feature([global_feat, *local_feats[:2]])


def test_label_smoothing_loss_exact_value():
    """BoT's ID loss: targets (1 - eps) one-hot + eps / K, eps = 0.1."""
    head = make_head(
        num_features=1,
        loss_cls=dict(type='LabelSmoothLoss', label_smooth_val=0.1),
        loss_triplet=None).train()
    torch.manual_seed(6)
    labels = torch.tensor([0, 1, 2, 3])
    feat = torch.randn(4, C)
    losses = head.loss([feat], samples(labels))
    assert set(losses) == {'loss_cls', 'accuracy'}
    bn = F.batch_norm(feat, None, None, training=True)
    log_prob = F.log_softmax(bn @ head.classifiers['0'].weight.t(), dim=1)
    eps, num_classes = 0.1, 5
    target = F.one_hot(labels, num_classes) * (1 - eps) + eps / num_classes
    expected = -(target * log_prob).sum(1).mean()
    torch.testing.assert_close(losses['loss_cls'], expected)
    # Not the unsmoothed value: the smoothing is applied.
    plain = F.nll_loss(log_prob, labels)
    assert abs(losses['loss_cls'].item() - plain.item()) > 1e-4


def test_margin_head_trains():
    head = make_head(cls_type='arcface', cls_scale=16.0)
    assert isinstance(head.classifiers['0'], MarginClassifier)
    losses = head.loss([torch.randn(4, C) for _ in range(5)],
                       samples([0, 0, 1, 1]))
    losses['loss_cls'].backward()
    assert head.classifiers['3'].weight.grad is not None


def test_invalid_arguments():
    with pytest.raises(ValueError, match="neck_feat must be 'before'"):
        ReIDHead(num_classes=5, in_channels=C, neck_feat='middle')
    with pytest.raises(ValueError, match='cls_type'):
        ReIDHead(num_classes=5, in_channels=C, cls_type='softmax')
    with pytest.raises(ValueError, match='in_channels is None'):
        ReIDHead(num_classes=5)
    with pytest.raises(ValueError, match='num_features must be a positive'):
        ReIDHead(num_classes=5, in_channels=C, num_features=0)
    with pytest.raises(ValueError, match='unique strings'):
        ReIDHead(num_classes=5, in_channels=C, num_features=('a', 'a'))
    with pytest.raises(TypeError, match='the string'):
        ReIDHead(num_classes=5, in_channels=C, num_features='x')
    with pytest.raises(TypeError, match='loss_cls'):
        ReIDHead(num_classes=5, in_channels=C, loss_cls=None)
    with pytest.raises(ValueError, match='num_classes must be a positive'):
        ReIDHead(num_classes=0, in_channels=C)


def test_label_out_of_range_names_num_classes():
    head = make_head().train()
    with pytest.raises(
            ValueError,
            match=r'label 7 is outside \[0, 5\).*'
            r'model\.head\.num_classes'):
        head.loss([torch.randn(4, C) for _ in range(5)], samples([0, 0, 7, 7]))
