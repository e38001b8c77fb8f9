import pytest
import torch
import torch.nn.functional as F

from mmpha.models import MarginClassifier

C = 16


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
