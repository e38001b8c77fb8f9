import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpha.utils import (DIST_METRICS, IntTypeError, check_dist_metric,
                         check_int, check_positive_int, pair_masks,
                         pairwise_distance)


# The formulas that the triplet loss and ``mmpha.apis.search`` used before
# they shared ``pairwise_distance``, frozen here to prove that the shared
# function gives the same bits.
def _triplet_formula(feats, eps=1e-12):
    sq_norm = feats.pow(2).sum(dim=1)
    sq_dist = sq_norm[:, None] + sq_norm[None, :] - 2 * feats @ feats.t()
    return sq_dist.clamp(min=eps).sqrt()


def _search_formula(q, g):
    sq = (q * q).sum(1, keepdim=True) + (g * g).sum(1)[None] - 2.0 * q @ g.t()
    return sq.clamp_min(0).sqrt()


def _metric_cosine_formula(x, y):
    return (x @ y.t()).neg_().add_(1).clamp_(min=0)


@pytest.mark.parametrize('seed', range(5))
def test_euclidean_bit_identical_to_previous_formulas(seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(67, 33, generator=gen)
    y = torch.randn(45, 33, generator=gen)
    assert torch.equal(
        pairwise_distance(x, eps=1e-12), _triplet_formula(x, 1e-12))
    assert torch.equal(pairwise_distance(x, y), _search_formula(x, y))
    xn, yn = F.normalize(x, dim=1), F.normalize(y, dim=1)
    assert torch.equal(pairwise_distance(xn, yn), _search_formula(xn, yn))
    assert torch.equal(
        pairwise_distance(xn, yn, 'cosine', normalized=True),
        _metric_cosine_formula(xn, yn))
    # Normalising inside gives the bits of normalising outside.
    assert torch.equal(
        pairwise_distance(x, y, 'cosine'), _metric_cosine_formula(xn, yn))
    assert torch.equal(
        pairwise_distance(x, y, 'sqeuclidean'),
        ((x.pow(2).sum(1)[:, None] + y.pow(2).sum(1)[None]) - 2 *
         (x @ y.t())).clamp(min=0))


def test_grad_and_no_grad_paths_agree_and_backpropagate():
    torch.manual_seed(0)
    x = torch.randn(12, 8, requires_grad=True)
    for metric in ('euclidean', 'sqeuclidean', 'cosine'):
        with_grad = pairwise_distance(x, metric=metric, eps=1e-12)
        with torch.no_grad():
            without = pairwise_distance(x, metric=metric, eps=1e-12)
        assert torch.equal(with_grad.detach(), without), metric
        with_grad.sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        x.grad = None
    # The triplet loss's formula, gradient included.
    x2 = x.detach().clone().requires_grad_(True)
    _triplet_formula(x2).sum().backward()
    pairwise_distance(x, eps=1e-12).sum().backward()
    assert torch.equal(x.grad, x2.grad)


def test_hand_values_half_precision_and_chunking():
    x = torch.tensor([[0., 0.], [3., 4.]])
    y = torch.tensor([[0., 1.], [-1., 0.]])
    assert torch.equal(
        pairwise_distance(x, y),
        torch.tensor([[1., 1.], [18., 32.]]).sqrt())
    assert pairwise_distance(x, y, 'sqeuclidean').tolist() == [[1., 1.],
                                                               [18., 32.]]
    cos = pairwise_distance(torch.tensor([[2., 0.]]), y, 'cosine')
    assert cos.tolist() == [[1.0, 2.0]]
    # Rounding never makes a distance negative.
    same = torch.full((3, 7), 0.1)
    assert (pairwise_distance(same, same, 'cosine') >= 0).all()
    assert (pairwise_distance(same, same) == 0).all()
    assert pairwise_distance(x.half(), y.half()).dtype == torch.float32
    assert pairwise_distance(x.double(), y.double()).dtype == torch.float64
    # Rows are independent: chunks of queries give the same values (up to
    # the blocking of the matrix product).
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(40, 16, generator=gen)
    g = torch.randn(30, 16, generator=gen)
    torch.testing.assert_close(
        torch.cat([pairwise_distance(c, g) for c in q.split(7)]),
        torch.cdist(q, g),
        rtol=1e-5,
        atol=1e-5)


def test_pairwise_distance_bad_input():
    q, g = torch.randn(2, 4), torch.randn(3, 4)
    with pytest.raises(ValueError, match="metric must be one of.*'l1'"):
        pairwise_distance(q, g, 'l1')
    with pytest.raises(ValueError, match='widths differ: 4 vs 5'):
        pairwise_distance(q, torch.randn(3, 5))
    with pytest.raises(ValueError, match=r'x must be a 2-D.*\(4,\)'):
        pairwise_distance(torch.randn(4), g)
    with pytest.raises(ValueError, match='y must be a 2-D.*ndarray'):
        pairwise_distance(q, np.zeros((3, 4)))
    with pytest.raises(TypeError):
        pairwise_distance(q, g, 'euclidean', True)  # keyword only
    assert DIST_METRICS == ('euclidean', 'cosine')


def test_pair_masks():
    labels = torch.tensor([3, 3, 5])
    pos, neg = pair_masks(labels)
    assert pos.tolist() == [[True, True, False], [True, True, False],
                            [False, False, True]]
    assert torch.equal(neg, ~pos)
    pos, neg = pair_masks(labels, exclude_diagonal=True)
    assert pos.tolist() == [[False, True, False], [True, False, False],
                            [False, False, False]]
    assert neg.tolist() == [[False, False, True], [False, False, True],
                            [True, True, False]]
    pos, neg = pair_masks(torch.tensor([1, 2]), torch.tensor([2, 2, 1]))
    assert pos.tolist() == [[False, False, True], [True, True, False]]
    assert torch.equal(neg, ~pos)
    # Rectangular with the diagonal left out.
    pos, _ = pair_masks(
        torch.tensor([1, 1]), torch.tensor([1, 1, 1]), exclude_diagonal=True)
    assert pos.tolist() == [[False, True, True], [True, False, True]]
    with pytest.raises(ValueError, match=r'1-D, got shapes \(2, 1\)'):
        pair_masks(torch.zeros(2, 1))


@pytest.mark.parametrize('value', [1, 7, np.int64(3), torch.tensor(2).item()])
def test_check_positive_int_accepts(value):
    out = check_positive_int(value, 'topk')
    assert out == value and type(out) is int


@pytest.mark.parametrize('value,error,message', [
    (0, ValueError, r'topk must be a positive int, got 0\.'),
    (-3, ValueError, r'topk must be a positive int, got -3\.'),
    (2.5, IntTypeError, r'topk must be a positive int, got 2\.5 \(float\)'),
    ('3', IntTypeError, r"got '3' \(str\)"),
    (True, IntTypeError, r'got True \(bool\)'),
    (None, IntTypeError, r'got None \(NoneType\)'),
])
def test_check_positive_int_rejects(value, error, message):
    with pytest.raises(error, match=message) as info:
        check_positive_int(value, 'topk')
    # Callers that caught the ValueError of the former checks still do.
    assert isinstance(info.value, ValueError)
    if error is IntTypeError:
        assert isinstance(info.value, TypeError)


def test_check_dist_metric():
    assert check_dist_metric('cosine') == 'cosine'
    with pytest.raises(
            ValueError,
            match="dist_metric must be 'euclidean' or 'cosine', got 'l2'"):
        check_dist_metric('l2', 'dist_metric')
    with pytest.raises(ValueError, match="metric must be .*, got None"):
        check_dist_metric(None)


def test_check_int_with_a_minimum():
    assert check_int(0, 'shift', minimum=0) == 0
    assert check_int(np.int32(5), 'shift', minimum=5) == 5
    with pytest.raises(ValueError, match=r'shift must be an int >= 0, got -1'):
        check_int(-1, 'shift', minimum=0)
    with pytest.raises(
            IntTypeError, match=r'shift must be an int >= 2, got 2\.0'):
        check_int(2.0, 'shift', minimum=2)
    # The default minimum is the positive-int check.
    with pytest.raises(ValueError, match='n must be a positive int, got 0'):
        check_int(0, 'n')
