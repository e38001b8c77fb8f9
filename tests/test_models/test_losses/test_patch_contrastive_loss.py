"""PHA's patch-wise contrastive loss."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmpha.models.losses import PatchContrastiveLoss, patch_contrastive_loss
from mmpha.registry import MODELS


def _hand_example():
    # Four samples, one token, two channels; identities [0, 0, 1, 1].
    # u = v (up to scale) = (1, 0), (0, 1), (1, 0), (-1, 0).
    u = torch.tensor([[[3.0, 0.0]], [[0.0, 1.0]], [[1.0, 0.0]], [[-1.0, 0.0]]])
    v = torch.tensor([[[1.0, 0.0]], [[0.0, 2.0]], [[1.0, 0.0]], [[-1.0, 0.0]]])
    labels = torch.tensor([0, 0, 1, 1])
    return u, v, labels


def test_hand_computed_value():
    u, v, labels = _hand_example()
    # cos(u_i, v_j):   j=0   j=1   j=2   j=3
    #   i=0            1     0     1    -1   m+ = 1/2,  m- = 0
    #   i=1            0     1     0     0   m+ = 1/2,  m- = 0
    #   i=2            1     0     1    -1   m+ = 0,    m- = 1/2
    #   i=3           -1     0    -1     1   m+ = 0,    m- = -1/2
    # loss(i) = log(1 + exp(m- - m+)):
    #   log(1 + e^-0.5) = 0.474077 for i = 0, 1, 3; log(1 + e^0.5) = 0.974077
    expected = (3 * math.log1p(math.exp(-0.5)) + math.log1p(math.exp(0.5)))
    expected /= 4
    assert expected == pytest.approx(0.599077, abs=1e-6)
    loss = patch_contrastive_loss(u, v, labels)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    per_sample = patch_contrastive_loss(u, v, labels, reduction='none')
    assert per_sample.shape == (4, 1)
    assert per_sample[:, 0].tolist() == pytest.approx(
        [0.474077, 0.474077, 0.974077, 0.474077], abs=1e-6)
    # Temperature 0.5 doubles every similarity.
    loss_t = patch_contrastive_loss(u, v, labels, temperature=0.5)
    expected_t = (3 * math.log1p(math.exp(-1)) + math.log1p(math.exp(1))) / 4
    assert loss_t.item() == pytest.approx(expected_t, abs=1e-6)


def _naive(u, v, labels, temperature=1.0):
    total, count = 0.0, 0
    for i in range(u.shape[0]):
        pos = [j for j in range(u.shape[0]) if labels[j] == labels[i]]
        neg = [j for j in range(u.shape[0]) if labels[j] != labels[i]]
        if not neg:
            continue
        for t in range(u.shape[1]):
            sims = [
                F.cosine_similarity(u[i, t], v[j, t], dim=0) / temperature
                for j in range(u.shape[0])
            ]
            m_pos = sum(sims[j] for j in pos) / len(pos)
            m_neg = sum(sims[j] for j in neg) / len(neg)
            total += -torch.log(
                torch.exp(m_pos) / (torch.exp(m_pos) + torch.exp(m_neg)))
            count += 1
    return total / count


@pytest.mark.parametrize('num_ids,k', [(3, 2), (2, 4), (2, 3), (1, 5)])
def test_matches_naive_for_any_k_and_order(num_ids, k):
    gen = torch.Generator().manual_seed(num_ids * 10 + k)
    labels = torch.arange(num_ids).repeat_interleave(k)
    # Two extra singleton identities make unequal group sizes.
    labels = torch.cat([labels, torch.tensor([7, 9])])
    perm = torch.randperm(labels.numel(), generator=gen)
    labels = labels[perm]
    u = torch.randn(labels.numel(), 3, 6, generator=gen)
    v = torch.randn(labels.numel(), 3, 6, generator=gen)
    loss = patch_contrastive_loss(u, v, labels, temperature=0.7)
    assert loss.item() == pytest.approx(
        _naive(u, v, labels, 0.7).item(), abs=1e-5)


def test_invariant_to_batch_permutation():
    gen = torch.Generator().manual_seed(1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    u = torch.randn(9, 4, 8, generator=gen)
    v = torch.randn(9, 4, 8, generator=gen)
    loss = patch_contrastive_loss(u, v, labels)
    perm = torch.randperm(9, generator=gen)
    permuted = patch_contrastive_loss(u[perm], v[perm], labels[perm])
    assert permuted.item() == pytest.approx(loss.item(), abs=1e-6)


def test_without_negatives_returns_connected_zero():
    u = torch.randn(4, 2, 5, requires_grad=True)
    v = torch.randn(4, 2, 5, requires_grad=True)
    loss = patch_contrastive_loss(u, v, torch.zeros(4, dtype=torch.long))
    assert loss.item() == 0.0
    loss.backward()
    assert u.grad is not None and torch.equal(u.grad, torch.zeros_like(u))


def test_gradients_pull_positives_together():
    u, v, labels = _hand_example()
    v = v.clone().requires_grad_(True)
    patch_contrastive_loss(u, v, labels).backward()
    assert v.grad is not None and v.grad.abs().sum() > 0


def test_module_from_registry():
    u, v, labels = _hand_example()
    module = MODELS.build(
        dict(type='PatchContrastiveLoss', temperature=1.0, loss_weight=2.0))
    assert isinstance(module, PatchContrastiveLoss)
    assert module(u, v, labels).item() == pytest.approx(2 * 0.599077, abs=1e-5)
    with pytest.raises(ValueError, match='temperature must be'):
        PatchContrastiveLoss(temperature=0)
    with pytest.raises(ValueError, match='reduction must be one of'):
        PatchContrastiveLoss(reduction='avg')
    with pytest.raises(ValueError, match='u and v must both have shape'):
        patch_contrastive_loss(u, v[:, :, :1], labels)
    with pytest.raises(ValueError, match=r'labels must have shape \(4, \)'):
        patch_contrastive_loss(u, v, labels[:3])
