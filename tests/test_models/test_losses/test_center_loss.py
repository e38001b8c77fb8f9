"""CenterLoss: hand-computed values, BoT's SGD step of the centers."""
import pytest
import torch

from mmpha.models import ReIDHead
from mmpha.models.losses import CenterLoss, center_loss
from mmpha.structures import ReIDDataSample

FEATS = [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]
LABELS = [0, 1, 0]
CENTERS = [[1.0, 1.0], [2.0, 2.0]]


def test_value_by_hand():
    feats, labels = torch.tensor(FEATS), torch.tensor(LABELS)
    centers = torch.tensor(CENTERS)
    # ||x - c_y||^2: (0 + 1), (1 + 4), (1 + 1).
    assert center_loss(feats, labels, centers,
                       'none').tolist() == [1.0, 5.0, 2.0]
    assert center_loss(feats, labels, centers).item() == pytest.approx(8 / 3)
    assert center_loss(feats, labels, centers, 'sum').item() == 8.0

    loss = CenterLoss(num_classes=2, feat_dim=2, loss_weight=0.5)
    with torch.no_grad():
        loss.centers.copy_(centers)
    assert loss(feats, labels).item() == pytest.approx(0.5 * 8 / 3)


UNWEIGHTED_GRAD = [[2 / 3, 0.0], [-2 / 3, -4 / 3]]


def test_center_step_is_bots_sgd_and_features_get_weighted_grad():
    weight, center_lr = 0.01, 0.5
    loss = CenterLoss(2, 2, loss_weight=weight, center_lr=center_lr)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor(CENTERS))
    feats = torch.tensor(FEATS, requires_grad=True)
    value = loss(feats, torch.tensor(LABELS))
    # The value uses the centers before the step.
    assert value.item() == pytest.approx(weight * 8 / 3)
    value.backward()
    # d mean / d c_j = 2 / B * sum_{y_i = j} (c_j - x_i), B = 3.
    torch.testing.assert_close(
        loss.centers,
        torch.tensor(CENTERS) - center_lr * torch.tensor(UNWEIGHTED_GRAD))
    # The features see the weighted gradient 2 w / B (x - c_y).
    c_y = torch.tensor(CENTERS)[torch.tensor(LABELS)]
    torch.testing.assert_close(feats.grad,
                               weight * 2 / 3 * (torch.tensor(FEATS) - c_y))
    # BoT's procedure, literally: a parameter, plain SGD, unweighted loss.
    ref = torch.nn.Parameter(torch.tensor(CENTERS))
    opt = torch.optim.SGD([ref], lr=center_lr)
    center_loss(torch.tensor(FEATS), torch.tensor(LABELS), ref).backward()
    opt.step()
    torch.testing.assert_close(loss.centers, ref.detach())

    loss.eval()
    before = loss.centers.clone()
    loss(torch.tensor(FEATS), torch.tensor(LABELS))
    torch.testing.assert_close(loss.centers, before)


def _samples(labels):
    return [ReIDDataSample().set_gt_label(label) for label in labels]


def test_reid_head_term():
    head = ReIDHead(
        num_classes=2,
        in_channels=2,
        loss_center=dict(type='CenterLoss', loss_weight=0.0005))
    assert head.loss_center.centers.shape == (2, 2)
    # Not a parameter: no optimiser of the model can touch it.
    assert all('centers' not in n for n, _ in head.named_parameters())
    assert 'loss_center.centers' in head.state_dict()
    with torch.no_grad():
        head.loss_center.centers.copy_(torch.tensor(CENTERS))
    losses = head.loss([torch.tensor(FEATS)], _samples(LABELS))
    assert set(losses) == {
        'loss_cls', 'loss_triplet', 'loss_center', 'accuracy'
    }
    assert losses['loss_center'].item() == pytest.approx(0.0005 * 8 / 3)
    torch.testing.assert_close(
        head.loss_center.centers,
        torch.tensor(CENTERS) - 0.5 * torch.tensor(UNWEIGHTED_GRAD))


def test_bad_arguments():
    with pytest.raises(ValueError, match='center_lr must be >= 0'):
        CenterLoss(2, 2, center_lr=-1)
    with pytest.raises(ValueError, match='loss_weight must be > 0'):
        CenterLoss(2, 2, loss_weight=0)
    with pytest.raises(ValueError, match=r'expects \(B, 2\) features'):
        CenterLoss(2, 2)(torch.zeros(3, 4), torch.zeros(3).long())
