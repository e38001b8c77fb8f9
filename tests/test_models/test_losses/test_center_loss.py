"""CenterLoss: hand-computed values and gradients, BoT's center update."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

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


@pytest.mark.parametrize('decouple', [True, False])
def test_center_gradient_is_unweighted(decouple):
    weight = 0.01
    loss = CenterLoss(2, 2, loss_weight=weight, decouple_center_grad=decouple)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor(CENTERS))
    feats = torch.tensor(FEATS, requires_grad=True)
    loss(feats, torch.tensor(LABELS)).backward()
    # d mean / d c_j = 2 / B * sum_{y_i = j} (c_j - x_i), B = 3.
    unweighted = torch.tensor([[2 / 3, 0.0], [-2 / 3, -4 / 3]])
    scale = 1.0 if decouple else weight
    torch.testing.assert_close(loss.centers.grad, unweighted * scale)
    # The features always see the weighted gradient 2 w / B (x - c_y).
    c_y = torch.tensor(CENTERS)[torch.tensor(LABELS)]
    torch.testing.assert_close(feats.grad,
                               weight * 2 / 3 * (torch.tensor(FEATS) - c_y))


def _samples(labels):
    return [ReIDDataSample().set_gt_label(label) for label in labels]


def test_reid_head_term_and_bot_center_step():
    head = ReIDHead(
        num_classes=2,
        in_channels=2,
        loss_center=dict(type='CenterLoss', loss_weight=0.0005))
    assert head.loss_center.centers.shape == (2, 2)
    with torch.no_grad():
        head.loss_center.centers.copy_(torch.tensor(CENTERS))
    feats = torch.tensor(FEATS)
    losses = head.loss([feats], _samples(LABELS))
    assert set(losses) == {
        'loss_cls', 'loss_triplet', 'loss_center', 'accuracy'
    }
    assert losses['loss_center'].item() == pytest.approx(0.0005 * 8 / 3)

    # BoT: centers stepped by plain SGD with lr center_lr = 0.5 on the
    # unweighted gradient, no weight decay.
    wrapper = build_optim_wrapper(
        head,
        dict(
            optimizer=dict(type='SGD', lr=0.01, weight_decay=5e-4),
            paramwise_cfg=dict(
                custom_keys={
                    'loss_center.centers': dict(lr_mult=50.0, decay_mult=0.0)
                })))
    before = head.loss_center.centers.detach().clone()
    losses = head.loss([feats], _samples(LABELS))
    wrapper.update_params(sum(v for k, v in losses.items() if 'loss' in k))
    unweighted = torch.tensor([[2 / 3, 0.0], [-2 / 3, -4 / 3]])
    torch.testing.assert_close(head.loss_center.centers,
                               before - 0.5 * unweighted)


def test_bad_arguments():
    with pytest.raises(ValueError, match='loss_weight must be > 0'):
        CenterLoss(2, 2, loss_weight=0)
    with pytest.raises(ValueError, match=r'expects \(B, 2\) features'):
        CenterLoss(2, 2)(torch.zeros(3, 4), torch.zeros(3).long())
