import math

import pytest
import torch

from mmpha.models import TripletLoss, triplet_loss


def naive_triplet(feats, labels, margin, hard_mining=True):
    """One anchor at a time, straight from the definition."""
    terms = []
    for i in range(len(labels)):
        d = [torch.dist(feats[i], feats[j]) for j in range(len(labels))]
        pos = [
            d[j] for j in range(len(labels))
            if labels[j] == labels[i] and j != i
        ]
        neg = [d[j] for j in range(len(labels)) if labels[j] != labels[i]]
        if not pos or not neg:
            continue
        if hard_mining:
            d_ap, d_an = max(pos), min(neg)
        else:
            w_p = torch.softmax(torch.stack(pos), 0)
            w_n = torch.softmax(-torch.stack(neg), 0)
            d_ap = (w_p * torch.stack(pos)).sum()
            d_an = (w_n * torch.stack(neg)).sum()
        diff = d_ap - d_an
        if margin is None:
            terms.append(torch.log(1 + torch.exp(diff)))
        else:
            terms.append(torch.clamp(diff + margin, min=0))
    return torch.stack(terms).mean()


def test_hand_computed_values():
    # 1-D features: distances can be read off the number line.
    feats = torch.tensor([[0.], [1.], [3.], [7.]])
    labels = torch.tensor([0, 0, 1, 1])
    # (d_ap, d_an) per anchor: (1, 3), (1, 2), (4, 2), (4, 6).
    soft = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) +
            math.log1p(math.exp(2)) + math.log1p(math.exp(-2))) / 4
    assert triplet_loss(feats, labels).item() == pytest.approx(soft, 1e-5)
    assert triplet_loss(
        feats, labels, margin=0.3).item() == pytest.approx(2.3 / 4, 1e-5)


@pytest.mark.parametrize('margin', [None, 0.3])
@pytest.mark.parametrize('hard_mining', [True, False])
def test_equals_naive_loop(margin, hard_mining):
    torch.manual_seed(0)
    # Unordered labels, K from 1 to 3; identity 9 (K = 1) is no anchor.
    labels = torch.tensor([2, 0, 9, 1, 0, 2, 1, 1, 0, 2])
    feats = torch.randn(10, 6)
    expected = naive_triplet(feats, labels, margin, hard_mining)
    got = triplet_loss(feats, labels, margin=margin, hard_mining=hard_mining)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_permutation_invariant_and_normalised():
    torch.manual_seed(1)
    feats = torch.randn(8, 4)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    perm = torch.randperm(8)
    torch.testing.assert_close(
        triplet_loss(feats, labels), triplet_loss(feats[perm], labels[perm]))
    normed = triplet_loss(feats, labels, normalize_feature=True)
    torch.testing.assert_close(
        normed,
        naive_triplet(torch.nn.functional.normalize(feats), labels, None))


def test_no_valid_anchor_gives_connected_zero():
    feats = torch.randn(3, 4, requires_grad=True)
    with pytest.warns(UserWarning, match='no anchor'):
        loss = triplet_loss(feats, torch.tensor([0, 1, 2]))
    assert loss.item() == 0.0
    loss.backward()
    assert feats.grad is not None and torch.all(feats.grad == 0)


def test_identical_features_have_finite_gradient():
    feats = torch.ones(4, 3, requires_grad=True)
    loss = triplet_loss(feats, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert torch.isfinite(feats.grad).all()
    assert loss.item() == pytest.approx(math.log(2), 1e-4)


def test_reduction_none_zero_for_invalid_anchor():
    feats = torch.tensor([[0.], [1.], [3.], [9.]])
    per_anchor = triplet_loss(
        feats, torch.tensor([0, 0, 1, 2]), margin=1.0, reduction='none')
    # Anchors 2 and 3 have no positive.
    assert per_anchor.tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])
    per_anchor = triplet_loss(
        feats, torch.tensor([0, 0, 1, 2]), margin=3.0, reduction='none')
    assert per_anchor.tolist() == pytest.approx([1.0, 2.0, 0.0, 0.0])


def test_module_weight_and_validation():
    torch.manual_seed(2)
    feats = torch.randn(6, 5)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    module = TripletLoss(margin=0.3, loss_weight=2.0)
    torch.testing.assert_close(
        module(feats, labels), 2 * triplet_loss(feats, labels, margin=0.3))
    with pytest.raises(ValueError, match='margin must be None'):
        TripletLoss(margin=-1.0)
    with pytest.raises(ValueError, match="'avg'"):
        TripletLoss(reduction='avg')
    with pytest.raises(ValueError, match='labels must be'):
        triplet_loss(feats, labels[:4])
