"""HF patch selection on the ViT patch grid and token gathering."""
import pytest
import torch

from mmpha.models.utils import (gather_tokens, hf_energy_map, hf_region,
                                patch_grid_size, patch_scores,
                                select_hf_patches)


def _checkerboard(h, w, amplitude):
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return 0.5 + amplitude * (((yy + xx) % 2).float() - 0.5)


def test_patch_grid_size():
    assert patch_grid_size((256, 128), 16, 12) == (21, 10)
    assert patch_grid_size((256, 128), 16, 16) == (16, 8)
    assert patch_grid_size((224, 224), (16, 16), (16, 16)) == (14, 14)
    assert patch_grid_size((37, 29), 8, 5) == (6, 5)
    with pytest.raises(
            ValueError,
            match='image size 8x8 is smaller than the patch size '
            '16x16'):
        patch_grid_size((8, 8), 16, 12)
    with pytest.raises(
            ValueError, match=r'stride must hold positive ints, '
            r'got \(0, 2\)'):
        patch_grid_size((32, 32), 16, (0, 2))
    with pytest.raises(TypeError, match='stride must be an int'):
        patch_grid_size((32, 32), 16, 1.5)


def test_selection_keeps_the_highest_energy_patches_of_a_hand_made_image():
    # 64 x 48 image, 16 x 16 patches, stride 16: a 4 x 3 grid (12 patches).
    img = torch.full((1, 3, 64, 48), 0.5)
    textures = {1: 1.0, 8: 0.6, 9: 0.3, 5: 0.1}  # patch index -> amplitude
    for idx, amp in textures.items():
        r, c = divmod(idx, 3)
        img[0, :, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16] = \
            _checkerboard(16, 16, amp)
    energy = hf_energy_map(img)
    keep = select_hf_patches(energy, (64, 48), 16, 16, keep_ratio=0.25)
    # floor(0.25 * 12) = 3 patches: the three strongest textures.
    assert keep.tolist() == [[1, 8, 9]]
    keep = select_hf_patches(energy, (64, 48), 16, 16, keep_ratio=0.34)
    assert keep.tolist() == [[1, 5, 8, 9]]


def test_selection_with_overlapping_patches_of_a_hand_made_image():
    # 256 x 128, patch 16, stride 12: the TransReID 21 x 10 grid. A texture
    # exactly under patch (row 15, col 6) and a weaker one under (3, 2).
    img = torch.full((2, 3, 256, 128), 0.5)
    img[:, :, 180:196, 72:88] = _checkerboard(16, 16, 1.0)
    img[:, :, 36:52, 24:40] = _checkerboard(16, 16, 0.5)
    energy = hf_energy_map(img)
    keep = select_hf_patches(energy, (256, 128), 16, 12, keep_ratio=1 / 210)
    assert keep.tolist() == [[15 * 10 + 6]] * 2
    keep = select_hf_patches(energy, (256, 128), 16, 12, keep_ratio=2 / 210)
    assert keep.tolist() == [[3 * 10 + 2, 15 * 10 + 6]] * 2


def test_patch_scores_are_means_over_each_receptive_field():
    gen = torch.Generator().manual_seed(0)
    energy = torch.rand(2, 50, 30, generator=gen)
    img_size, patch, stride = (100, 60), 8, 6
    scores = patch_scores(energy, img_size, patch, stride)
    hp, wp = patch_grid_size(img_size, patch, stride)
    assert scores.shape == (2, hp, wp)
    full = energy.repeat_interleave(2, 1).repeat_interleave(2, 2)
    for r, c in [(0, 0), (3, 7), (hp - 1, wp - 1)]:
        box = full[:, r * stride:r * stride + patch,
                   c * stride:c * stride + patch]
        assert torch.allclose(scores[:, r, c], box.mean(dim=(1, 2)))
    keep = select_hf_patches(energy, img_size, patch, stride, 0.4)
    k = int(0.4 * hp * wp)
    expected = scores.flatten(1).topk(k).indices.sort(dim=1).values
    assert torch.equal(keep, expected)


@pytest.mark.parametrize('batch', [1, 3, 5])
@pytest.mark.parametrize('img_size,patch,stride', [((256, 128), 16, 12),
                                                   ((256, 128), 16, 16),
                                                   ((64, 32), 8, 6),
                                                   ((37, 29), 8, 5)])
@pytest.mark.parametrize('ranking', ['energy', 'release'])
def test_selection_shapes_for_any_size_stride_and_batch(
        batch, img_size, patch, stride, ranking):
    x = torch.rand(batch, 3, *img_size)
    energy = hf_energy_map(x)
    score_map = energy if ranking == 'energy' else hf_region(energy, 0.4)
    keep = select_hf_patches(score_map, img_size, patch, stride, 0.4, ranking)
    hp, wp = patch_grid_size(img_size, patch, stride)
    k = max(1, int(0.4 * hp * wp + 1e-9))
    assert keep.shape == (batch, k) and keep.dtype == torch.int64
    assert keep.min() >= 0 and keep.max() < hp * wp
    if ranking == 'energy':
        assert torch.equal(keep, keep.sort(dim=1).values)
    for row in keep:
        assert row.unique().numel() == k


def test_release_ranking_keeps_the_first_marked_patches_in_raster_order():
    # Upper half of a 128 x 64 DWT map marked: with nearest sampling rows
    # 0..10 of the 21 x 10 grid are marked (110 patches > 84), and the
    # release keeps the first 84 in raster order.
    region = torch.zeros(3, 128, 64, dtype=torch.bool)
    region[:, :64] = True
    keep = select_hf_patches(region, (256, 128), 16, 12, 0.4, 'release')
    assert keep.tolist() == [list(range(84))] * 3


def test_release_ranking_fills_with_unmarked_patches_in_raster_order():
    region = torch.zeros(1, 128, 64, dtype=torch.bool)
    # Marks the nearest-neighbour samples of grid cells (20, 9) and (20, 8).
    region[:, 121:, 51:] = True
    keep = select_hf_patches(region, (256, 128), 16, 12, 0.4, 'release')
    # The two marked patches first, then 82 fillers in raster order.
    assert keep.tolist() == [[208, 209] + list(range(82))]


def _mark_cells(region, cells, grid, cell_size):
    for idx in cells:
        r, c = divmod(idx, grid[1])
        region[r * cell_size:(r + 1) * cell_size,
               c * cell_size:(c + 1) * cell_size] = True


def test_orders_of_both_rankings_on_a_hand_worked_example():
    # 64 x 48 image, patch 16, stride 16: a 4 x 3 grid; the DWT map is
    # 32 x 24, so grid cell (r, c) is the 8 x 8 block at (8 r, 8 c).
    grid = (4, 3)
    region = torch.zeros(2, 32, 24, dtype=torch.bool)
    _mark_cells(region[0], [10, 2, 7], grid, 8)  # 3 marked < K = 6
    _mark_cells(region[1], [11, 9, 4, 1, 6, 3, 0, 8], grid, 8)  # 8 > K
    keep = select_hf_patches(region, (64, 48), 16, 16, 0.5, 'release')
    assert keep.tolist() == [
        [2, 7, 10, 0, 1, 3],  # marked in raster order, then fillers
        [0, 1, 3, 4, 6, 8],  # the first 6 marked ones; 9, 11 dropped
    ]
    # Energy ranking: cells 9, 1 and 5 carry the energies 3, 2 and 1; K = 3
    # keeps them in raster order, not in score order.
    energy = torch.zeros(1, 32, 24)
    for idx, value in {9: 3.0, 1: 2.0, 5: 1.0}.items():
        r, c = divmod(idx, 3)
        energy[0, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] = value
    keep = select_hf_patches(energy, (64, 48), 16, 16, 0.25, 'energy')
    assert keep.tolist() == [[1, 5, 9]]  # score order would be 9, 1, 5


def test_release_ranking_needs_a_region():
    with pytest.raises(TypeError, match="needs the bool HF region"):
        select_hf_patches(torch.rand(1, 8, 8), (16, 16), 4, 4, 0.4, 'release')
    with pytest.raises(ValueError, match='ranking must be one of'):
        select_hf_patches(torch.rand(1, 8, 8), (16, 16), 4, 4, 0.4, 'first')
    with pytest.raises(ValueError, match='keep_ratio must be in'):
        select_hf_patches(torch.rand(1, 8, 8), (16, 16), 4, 4, 0.0)


def test_gather_tokens_keeps_cls_first():
    tokens = torch.arange(2 * 5 * 3).float().view(2, 5, 3)
    idx = torch.tensor([[3, 0], [1, 2]])
    out = gather_tokens(tokens, idx)
    assert out.shape == (2, 3, 3)
    assert torch.equal(out[:, 0], tokens[:, 0])
    assert torch.equal(out[0, 1:], tokens[0, [4, 1]])
    assert torch.equal(out[1, 1:], tokens[1, [2, 3]])
    with pytest.raises(ValueError, match='idx must have shape'):
        gather_tokens(tokens, idx[:1])
