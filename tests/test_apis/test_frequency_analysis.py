"""The per-layer frequency analysis of the tiny TransReID and PHA models."""
import pytest
import torch
from _tiny_reid import TINY_LAYERS

from mmpha.apis import (build_frequency_neck, build_query_dataset,
                        dataset_hf_lf_similarity, group_means,
                        hf_lf_similarity, init_model, iter_batches,
                        layer_tokens, write_curves_csv)
from mmpha.apis.frequency_analysis import default_labels, evenly_spaced


@pytest.fixture(scope='module')
def models(tiny_files):
    return {
        name: init_model(tiny_files[f'{name}_cfg'], tiny_files[f'{name}_ckpt'])
        for name in ('transreid', 'pha')
    }


@pytest.fixture(scope='module')
def batch(models):
    model = models['transreid']
    dataset = build_query_dataset(model.cfg)
    return next(iter_batches(model, dataset, batch_size=4))


def test_group_means_hand_made():
    # Batch of 1, 4 patches of width 2, class token first.
    tokens = torch.tensor([[[9., 9.], [1., 0.], [3., 0.], [0., 2.], [0., 4.]]])
    hf, lf = group_means(tokens, torch.tensor([[0, 1]]))
    torch.testing.assert_close(hf, torch.tensor([[2., 0.]]))
    torch.testing.assert_close(lf, torch.tensor([[0., 3.]]))
    with pytest.raises(ValueError, match='between 1 and N-1=3'):
        group_means(tokens, torch.tensor([[0, 1, 2, 3]]))


def test_layer_tokens_follow_the_backbone(models, batch):
    model = models['transreid']
    outs = layer_tokens(model, batch['inputs'], batch['data_samples'])
    assert len(outs) == TINY_LAYERS
    with torch.no_grad():
        shared = model.extract_backbone(batch['inputs'],
                                        batch['data_samples']).tokens
        last = model.backbone.forward_last(shared)
    torch.testing.assert_close(outs[-2], shared)
    torch.testing.assert_close(model.backbone.ln1(outs[-1]), last)


def test_hf_lf_similarity_uses_the_frequency_module(models, batch):
    model = models['transreid']
    neck = build_frequency_neck(model)
    assert neck.keep_ratio == 0.4
    assert neck.patch_size == (16, 16) and neck.stride == (12, 12)
    sims = hf_lf_similarity(model, batch['inputs'], batch['data_samples'],
                            neck)
    assert sims.shape == (4, TINY_LAYERS)
    # Recompute the last layer by hand from the selected indices.
    x01 = model.data_preprocessor.to_unit_range(batch['inputs'])
    idx = neck.analyse(x01)['keep_idx']
    tokens = layer_tokens(model, batch['inputs'], batch['data_samples'])[-1]
    patches = tokens[:, 1:]
    for b in range(4):
        mask = torch.zeros(patches.shape[1], dtype=torch.bool)
        mask[idx[b]] = True
        expected = torch.cosine_similarity(
            patches[b, mask].mean(0), patches[b, ~mask].mean(0), dim=0)
        assert sims[b, -1].item() == pytest.approx(expected.item(), abs=1e-5)
    other = build_frequency_neck(model, keep_ratio=0.2)
    assert not torch.allclose(
        sims,
        hf_lf_similarity(model, batch['inputs'], batch['data_samples'], other))


def test_pha_neck_settings_are_reused(models):
    neck = build_frequency_neck(models['pha'], hf_ratio=0.3)
    assert neck.hf_ratio == 0.3
    assert neck.ranking == models['pha'].neck.ranking


def test_dataset_similarity_picks_evenly_spaced_images(models):
    model = models['transreid']
    dataset = build_query_dataset(model.cfg)
    sims = dataset_hf_lf_similarity(
        model, dataset, num_images=3, batch_size=2, progress=False)
    assert sims.shape == (3, TINY_LAYERS)
    assert evenly_spaced(8, 3) == [0, 4, 7]
    assert evenly_spaced(2, 5) == [0, 1]


def test_write_curves_csv(tmp_path):
    out = tmp_path / 'c.csv'
    write_curves_csv({
        'a': [0.5, 0.25],
        'b': torch.tensor([1.0, 0.0])
    }, str(out))
    assert out.read_text().splitlines() == [
        'layer,a,b', '1,0.500000,1.000000', '2,0.250000,0.000000'
    ]
    with pytest.raises(ValueError, match='equal-length'):
        write_curves_csv({'a': [1.0], 'b': [1.0, 2.0]}, str(out))


def test_default_labels():
    assert default_labels(['a/x.pth', 'b/y.pth']) == ['x', 'y']
    assert default_labels(['a/x.pth', 'b/x.pth']) == ['a/x', 'b/x']
    assert default_labels([None]) == ['random init']
