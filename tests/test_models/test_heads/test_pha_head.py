"""PHAHead: BNNecks per HF branch, one shared classifier, weighted losses."""
import pytest
import torch

from mmpha.models.heads import PHAHead
from mmpha.registry import MODELS


def _head(**kwargs):
    cfg = dict(type='PHAHead', num_classes=5, in_channels=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_structure_and_shared_classifier():
    head = _head()
    assert isinstance(head, PHAHead)
    assert set(head.bnnecks) == {'x', 'xhf'}
    assert head.classifier.bias is None
    assert all(not bn.bias.requires_grad for bn in head.bnnecks.values())
    feats = dict(x=torch.randn(6, 8), xhf=torch.randn(6, 8))
    out = head(feats)
    for name, (bn_feat, logits) in out.items():
        assert bn_feat.shape == (6, 8) and logits.shape == (6, 5)
        # The one classifier applied to that branch's BN feature.
        assert torch.allclose(logits, head.classifier(bn_feat))
    single = _head(branches=['xhf'])
    assert set(single.bnnecks) == {'xhf'}


def test_loss_keys_and_weight():
    head = _head()
    feats = dict(x=torch.randn(8, 8), xhf=torch.randn(8, 8))
    labels = torch.arange(4).repeat_interleave(2)
    losses_1 = head.loss(feats, labels, epoch=1)
    assert set(losses_1) == {
        'loss_hf_x_cls', 'loss_hf_x_triplet', 'hf_x_accuracy',
        'loss_hf_xhf_cls', 'loss_hf_xhf_triplet', 'hf_xhf_accuracy',
        'hf_weight'
    }
    losses_4 = head.loss(feats, labels, epoch=4)
    assert losses_4['hf_weight'].item() == pytest.approx(0.2)
    assert losses_4['loss_hf_x_cls'].item() == pytest.approx(
        4 * losses_1['loss_hf_x_cls'].item(), rel=1e-5)
    assert [head.hf_weight(e)
            for e in (1, 5, 10, 20)] == pytest.approx([0.05, 0.25, 0.5, 0.5])
    no_triplet = _head(loss_triplet=None).loss(feats, labels, 2)
    assert 'loss_hf_x_triplet' not in no_triplet
    with pytest.raises(ValueError, match='epoch is counted from 1'):
        head.hf_weight(0)
    with pytest.raises(ValueError, match='expected features of the branches'):
        head(dict(x=feats['x']))


@pytest.mark.parametrize('kwargs,match', [
    (dict(branches=()), 'branches must be a non-empty subset'),
    (dict(branches=('x', 'x')), 'branches must be a non-empty subset'),
    (dict(branches=('y', )), 'branches must be a non-empty subset'),
    (dict(in_channels=None), 'in_channels is None'),
    (dict(num_classes=0), 'num_classes must be a positive int, got 0'),
    (dict(hf_weight_schedule=dict(step=-1, max=0.5)),
     'hf_weight_schedule must be'),
    (dict(cls_type='softmax'), 'cls_type must be'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)
