import os.path as osp

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from mmpha.models import TransReIDViT
from mmpha.models.utils import patch_grid_size

TINY = dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64)
# Maximum absolute difference accepted between timm's and our float32 tokens.
PARITY_ATOL = 1e-5


def tiny_vit(**kwargs) -> TransReIDViT:
    cfg = dict(arch=TINY, img_size=(64, 32))
    cfg.update(kwargs)
    return TransReIDViT(**cfg)


@pytest.mark.parametrize('img_size, patch, stride, expected', [
    ((256, 128), 16, 12, (21, 10)),
    ((256, 128), 16, 16, (16, 8)),
    ((384, 128), 16, 12, (31, 10)),
    ((224, 224), 16, 16, (14, 14)),
    ((64, 32), 16, (12, 8), (5, 3)),
])
def test_grid_size(img_size, patch, stride, expected):
    assert patch_grid_size(img_size, patch, stride) == expected


def test_grid_size_rejects_small_image():
    with pytest.raises(ValueError, match='8x128 is smaller'):
        patch_grid_size((8, 128), 16, 12)


def test_base_stride12_has_211_tokens():
    model = TransReIDViT(arch='base', img_size=(256, 128), stride=12)
    assert model.grid == (21, 10)
    assert model.patch_resolution == (21, 10)
    assert model.pos_embed.shape == (1, 211, 768)
    assert model.num_layers == 12 and len(model.blocks) == 12
    model.eval()
    with torch.no_grad():
        tokens = model.embed(torch.zeros(1, 3, 256, 128))
    assert tokens.shape == (1, 211, 768)


@pytest.mark.parametrize('arch, dims, depth, heads', [
    ('tiny', 192, 12, 3),
    ('small', 384, 12, 6),
    ('deit-tiny', 192, 12, 3),
    ('deit-small', 384, 12, 6),
    ('deit-base', 768, 12, 12),
])
def test_named_archs(arch, dims, depth, heads):
    model = TransReIDViT(arch=arch, img_size=(32, 16), patch_size=16)
    assert model.embed_dims == dims
    assert model.num_layers == depth
    assert model.blocks[0].attn.num_heads == heads
    assert model.blocks[0].ffn.feedforward_channels == 4 * dims


@pytest.mark.parametrize('img_size, patch, stride', [
    ((64, 32), 16, 12),
    ((64, 32), 16, 16),
    ((96, 48), 16, 12),
    ((48, 48), 8, 6),
])
def test_stage_shapes(img_size, patch, stride):
    model = tiny_vit(img_size=img_size, patch_size=patch, stride=stride)
    hp, wp = patch_grid_size(img_size, patch, stride)
    x = torch.randn(2, 3, *img_size)
    tokens = model.embed(x)
    assert tokens.shape == (2, 1 + hp * wp, 32)
    shared = model.forward_blocks(tokens)
    assert shared.shape == tokens.shape
    assert model.forward_last(shared).shape == tokens.shape
    assert model(x).shape == (2, 32)
    # Any sequence length goes through the blocks (PHA feeds subsets).
    assert model.forward_blocks(tokens[:, :4]).shape == (2, 4, 32)


def test_forward_equals_stage_composition():
    model = tiny_vit().eval()
    x = torch.randn(2, 3, 64, 32)
    manual = model.embed(x)
    for block in model.blocks:
        manual = block(manual)
    manual = model.norm(manual)[:, 0]
    torch.testing.assert_close(model(x), manual)


def test_wrong_input_size_raises():
    model = tiny_vit()
    with pytest.raises(ValueError, match='input size 80x32'):
        model.embed(torch.randn(1, 3, 80, 32))
    with pytest.raises(ValueError, match='B, C, H, W'):
        model.embed(torch.randn(3, 64, 32))


def test_invalid_arch():
    with pytest.raises(ValueError, match='"huge-ish" is not one of'):
        TransReIDViT(arch='huge-ish')
    with pytest.raises(ValueError, match="missing \\['num_heads'\\]"):
        TransReIDViT(
            arch=dict(embed_dims=32, num_layers=2, feedforward_channels=64))
    with pytest.raises(ValueError, match='not divisible'):
        TransReIDViT(
            arch=dict(
                embed_dims=30,
                num_layers=2,
                num_heads=4,
                feedforward_channels=64))
    with pytest.raises(ValueError, match='camera_num'):
        tiny_vit(camera_num=-1)


def test_drop_path_schedule():
    model = tiny_vit(drop_path_rate=0.2, attn_drop_rate=0.1)
    probs = [float(block.attn.out_drop.drop_prob) for block in model.blocks]
    assert probs == pytest.approx([0.0, 0.1, 0.2])
    assert model.blocks[0].attn.attn_drop == 0.1


def test_sie_camera_only():
    model = tiny_vit(camera_num=3, sie_coef=2.0).eval()
    assert model.sie_embed.shape == (3, 32)
    torch.nn.init.normal_(model.sie_embed)
    x = torch.randn(2, 3, 64, 32)
    base = model.embed(x, cam_ids=torch.tensor([0, 0]))
    moved = model.embed(x, cam_ids=[0, 2])
    torch.testing.assert_close(moved[0], base[0])
    expected = 2.0 * (model.sie_embed[2] - model.sie_embed[0])
    # The same vector is added to every token, the class token included.
    torch.testing.assert_close(moved[1] - base[1], expected.expand_as(base[1]))


def test_sie_camera_and_view_index():
    model = tiny_vit(camera_num=3, view_num=2, sie_coef=1.0).eval()
    assert model.sie_embed.shape == (6, 32)
    torch.nn.init.normal_(model.sie_embed)
    x = torch.randn(1, 3, 64, 32)
    with_sie = model.embed(x, cam_ids=[2], view_ids=[1])
    model_no = tiny_vit().eval()
    model_no.load_state_dict({
        k: v
        for k, v in model.state_dict().items() if k != 'sie_embed'
    })
    diff = with_sie - model_no.embed(x)
    torch.testing.assert_close(diff[0, 0], model.sie_embed[2 * 2 + 1])


def test_sie_view_only_and_errors():
    model = tiny_vit(view_num=4)
    assert model.sie_embed.shape == (4, 32)
    x = torch.randn(2, 3, 64, 32)
    with pytest.raises(ValueError, match='view_ids are required'):
        model.embed(x)
    with pytest.raises(ValueError, match=r'view_ids must be in \[0, 4\)'):
        model.embed(x, view_ids=[0, 4])
    with pytest.raises(ValueError, match='one id per image'):
        model.embed(x, view_ids=[0])
    assert tiny_vit().sie_embed is None


def _random_timm_vit(img_size, depth=3, **kwargs):
    torch.manual_seed(0)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=img_size,
        patch_size=16,
        embed_dim=32,
        depth=depth,
        num_heads=2,
        mlp_ratio=2.0,
        num_classes=5,
        **kwargs)
    # Random values everywhere, so that a swapped or skipped tensor shows.
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(std=0.2)
    return model.eval()


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_timm_parity(tmp_path, suffix):
    ref = _random_timm_vit((64, 32))
    path = osp.join(tmp_path, 'vit' + suffix)
    if suffix == '.pth':
        torch.save(ref.state_dict(), path)
    else:
        save_file(ref.state_dict(), path)
    model = tiny_vit(
        stride=16, init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    model.eval()

    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        shared = model.forward_blocks(model.embed(x))
        ref_tokens = ref._pos_embed(ref.patch_embed(x))
        for block in ref.blocks[:-1]:
            ref_tokens = block(ref_tokens)
        torch.testing.assert_close(
            shared, ref_tokens, atol=PARITY_ATOL, rtol=0)
        torch.testing.assert_close(
            model.forward_last(shared),
            ref.forward_features(x),
            atol=PARITY_ATOL,
            rtol=0)


def test_pretrained_pos_embed_resized_to_overlapping_grid(tmp_path):
    # An ImageNet-style square checkpoint (4x4 grid) into a 5x2 grid.
    ref = _random_timm_vit((64, 64))
    path = osp.join(tmp_path, 'vit.pth')
    torch.save({'model': ref.state_dict()}, path)
    model = tiny_vit(stride=12, camera_num=2)
    sie_before = model.sie_embed.detach().clone()
    result = model.load_pretrained(path)

    src = ref.pos_embed.detach()
    grid = src[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    expected = F.interpolate(
        grid, size=(5, 2), mode='bilinear',
        align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(model.pos_embed[:, 0], src[:, 0])
    torch.testing.assert_close(model.pos_embed[:, 1:], expected)
    torch.testing.assert_close(model.blocks[1].ffn.layers[1].weight,
                               ref.blocks[1].mlp.fc2.weight)
    assert result.missing_keys == ['sie_embed']
    assert result.unexpected_keys == [] and result.skipped_keys == []
    torch.testing.assert_close(model.sie_embed, sie_before)


def test_deit_distilled_checkpoint(tmp_path):
    ref = _random_timm_vit((64, 32))
    state = dict(ref.state_dict())
    dist_row = torch.full((1, 1, 32), 7.0)
    state['pos_embed'] = torch.cat(
        [state['pos_embed'][:, :1], dist_row, state['pos_embed'][:, 1:]], 1)
    state['dist_token'] = torch.zeros(1, 1, 32)
    state['head_dist.weight'] = torch.zeros(5, 32)
    path = osp.join(tmp_path, 'deit.pth')
    torch.save({'model': state, 'epoch': 3}, path)
    model = tiny_vit(stride=16)
    result = model.load_pretrained(path)
    torch.testing.assert_close(model.pos_embed, ref.pos_embed)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_mmpretrain_checkpoint_and_shape_mismatch(tmp_path):
    src = tiny_vit()
    path = osp.join(tmp_path, 'mmpretrain.pth')
    state = {'backbone.' + k: v for k, v in src.state_dict().items()}
    state['head.layers.head.weight'] = torch.zeros(5, 32)
    torch.save({'state_dict': state, 'meta': {'epoch': 1}}, path)
    dst = tiny_vit()
    dst.load_pretrained(path)
    for key, value in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[key], value)

    wide = TransReIDViT(
        arch=dict(
            embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=96),
        img_size=(64, 32))
    result = wide.load_pretrained(path)
    assert any(
        k.startswith('layers.0.ffn.layers.0.0.weight')
        for k in result.skipped_keys)


def test_missing_file_raises(tmp_path):
    model = tiny_vit()
    with pytest.raises(FileNotFoundError, match='nothing.safetensors'):
        model.load_pretrained(osp.join(tmp_path, 'nothing.safetensors'))


# Whole checkpoints of the released TransReID / PHA code (the backbone takes
# its last block from b1, not base) are tested in
# tests/test_models/test_utils/test_release_converter.py.
