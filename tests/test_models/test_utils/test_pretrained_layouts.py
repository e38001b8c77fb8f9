"""Person-pretrained / DINO / MAE files: every tensor mapped or reported."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmpha.models import TransReIDViT
from mmpha.models.utils import (convert_pretrained_checkpoint,
                                detect_pretrained_layout, infer_pos_grid)

C, DEPTH, FFN = 32, 2, 64
ARCH = dict(
    embed_dims=C, num_layers=DEPTH, num_heads=2, feedforward_channels=FFN)


def timm_state(grid=(4, 4), final_norm=True):
    """Random tensors under timm's ViT names, tiny width and depth."""
    state = {
        'cls_token': torch.randn(1, 1, C),
        'pos_embed': torch.randn(1, 1 + grid[0] * grid[1], C),
        'patch_embed.proj.weight': torch.randn(C, 3, 16, 16),
        'patch_embed.proj.bias': torch.randn(C),
    }
    if final_norm:
        state['norm.weight'] = torch.randn(C)
        state['norm.bias'] = torch.randn(C)
    for i in range(DEPTH):
        block = {
            'norm1.weight': (C, ),
            'norm1.bias': (C, ),
            'attn.qkv.weight': (3 * C, C),
            'attn.qkv.bias': (3 * C, ),
            'attn.proj.weight': (C, C),
            'attn.proj.bias': (C, ),
            'norm2.weight': (C, ),
            'norm2.bias': (C, ),
            'mlp.fc1.weight': (FFN, C),
            'mlp.fc1.bias': (FFN, ),
            'mlp.fc2.weight': (C, FFN),
            'mlp.fc2.bias': (C, ),
        }
        state.update({
            f'blocks.{i}.{k}': torch.randn(s)
            for k, s in block.items()
        })
    return state


def tiny(**kwargs):
    return TransReIDViT(
        arch=dict(ARCH), img_size=(64, 32), stride=12, **kwargs)


def assert_values_landed(model, src, prefix=''):
    own = model.state_dict()
    pairs = {
        'patch_embed.proj.weight': 'patch_embed.projection.weight',
        'cls_token': 'cls_token',
        'blocks.1.attn.qkv.weight': 'layers.1.attn.qkv.weight',
        'blocks.0.mlp.fc1.bias': 'layers.0.ffn.layers.0.0.bias',
        'blocks.1.mlp.fc2.weight': 'layers.1.ffn.layers.1.weight',
        'blocks.0.norm2.weight': 'layers.0.ln2.weight',
    }
    for src_key, dst_key in pairs.items():
        torch.testing.assert_close(own[dst_key], src[prefix + src_key])


def source_keys(checkpoint):
    keys = set()
    for name, value in checkpoint.items():
        if isinstance(value, torch.Tensor):
            keys.add(name)
        elif isinstance(value, dict):
            keys |= {
                f'{name}.{k}'
                for k, v in value.items() if isinstance(v, torch.Tensor)
            }
    return keys


def check_report(report, checkpoint):
    covered = set(report.mapped) | set(report.dropped)
    assert covered == source_keys(checkpoint), (
        f'unaccounted: {source_keys(checkpoint) - covered}')
    assert not set(report.mapped) & set(report.dropped)


def test_luperson_256x128_grid_and_wrapper(tmp_path):
    # TransReID-SSL's LUPerson ViTs: timm keys under 'model', pretrained at
    # 256x128 (a grid twice as high as wide: here 4x2).
    src = timm_state(grid=(4, 2))
    src['head.weight'] = torch.randn(10, C)
    ckpt = {'model': src, 'epoch': 100}
    path = osp.join(tmp_path, 'vit_small_cfs_lup.pth')
    torch.save(ckpt, path)
    model = tiny()
    result = model.load_pretrained(path)
    check_report(result.report, ckpt)
    assert result.report.layout == 'vit'
    assert result.report.dropped == {
        'model.head.weight': 'classifier head (a re-ID model trains its own)'
    }
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_values_landed(model, src)
    torch.testing.assert_close(model.ln1.bias, src['norm.bias'])
    grid = src['pos_embed'][:, 1:].reshape(1, 4, 2, C).permute(0, 3, 1, 2)
    expected = F.interpolate(
        grid, (5, 2), mode='bilinear',
        align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(model.pos_embed[:, 1:], expected)
    torch.testing.assert_close(model.pos_embed[:, 0], src['pos_embed'][:, 0])
    assert any('grid 4x2' in note for note in result.report.notes)


def test_infer_pos_grid():
    assert infer_pos_grid(196) == (14, 14)
    assert infer_pos_grid(128) == (16, 8)
    with pytest.raises(ValueError, match='src_grid'):
        infer_pos_grid(15)


def test_dino_teacher_student(tmp_path):
    teacher = timm_state()
    student = timm_state()
    ckpt = {
        'teacher': {
            **{
                'backbone.' + k: v
                for k, v in teacher.items()
            },
            'head.mlp.0.weight': torch.randn(8, C),
            'head.last_layer.weight_g': torch.randn(4, 1),
        },
        'student': {
            **{
                'module.backbone.' + k: v
                for k, v in student.items()
            },
            'module.head.mlp.0.weight': torch.randn(8, C),
        },
        'epoch': 3,
    }
    assert detect_pretrained_layout(ckpt) == 'dino'
    model = tiny()
    state, report = convert_pretrained_checkpoint(ckpt, model.state_dict(),
                                                  model.grid)
    check_report(report, ckpt)
    assert report.dropped['teacher.head.mlp.0.weight'].startswith(
        'DINO projection head')
    assert report.dropped['student.module.backbone.norm.weight'] == (
        'DINO student branch (the teacher is loaded)')
    assert report.mapped['teacher.backbone.blocks.1.attn.proj.weight'] == (
        'layers.1.attn.proj.weight')
    model.load_state_dict(state, strict=False)
    assert_values_landed(model, teacher)

    path = osp.join(tmp_path, 'dino.pth')
    torch.save(ckpt, path)
    other = tiny(
        init_cfg=dict(
            type='Pretrained', checkpoint=path, dino_branch='student'))
    other.init_weights()
    assert_values_landed(other, student)
    with pytest.raises(ValueError, match="dino_branch must be"):
        convert_pretrained_checkpoint(
            ckpt, model.state_dict(), model.grid, dino_branch='both')


def test_mae_pretrain_decoder_dropped():
    src = timm_state()
    src.update(
        mask_token=torch.randn(1, 1, 16),
        **{
            'decoder_embed.weight': torch.randn(16, C),
            'decoder_blocks.0.norm1.weight': torch.randn(16),
            'decoder_pos_embed': torch.randn(1, 17, 16)
        })
    ckpt = {'model': src}
    assert detect_pretrained_layout(ckpt) == 'mae'
    model = tiny()
    state, report = convert_pretrained_checkpoint(ckpt, model.state_dict(),
                                                  model.grid)
    check_report(report, ckpt)
    assert {
        k
        for k, r in report.dropped.items() if r.startswith('MAE decoder')
    } == {
        'model.mask_token', 'model.decoder_embed.weight',
        'model.decoder_blocks.0.norm1.weight', 'model.decoder_pos_embed'
    }
    model.load_state_dict(state, strict=False)
    assert_values_landed(model, src)


@pytest.mark.parametrize('mode', ['as_final_norm', 'drop'])
def test_mae_global_pool_fc_norm(mode):
    src = timm_state(final_norm=False)
    src['fc_norm.weight'] = torch.randn(C)
    src['fc_norm.bias'] = torch.randn(C)
    src['head.weight'] = torch.randn(5, C)
    ckpt = {'model': src}
    model = tiny()
    state, report = convert_pretrained_checkpoint(
        ckpt, model.state_dict(), model.grid, mae_fc_norm=mode)
    check_report(report, ckpt)
    if mode == 'as_final_norm':
        assert report.mapped['model.fc_norm.weight'] == 'ln1.weight'
        torch.testing.assert_close(state['ln1.bias'], src['fc_norm.bias'])
        assert any('fc_norm' in note for note in report.notes)
    else:
        assert 'ln1.weight' not in state
        assert 'model.fc_norm.bias' in report.dropped


def test_fc_norm_dropped_when_norm_present():
    src = timm_state()
    src['fc_norm.weight'] = torch.randn(C)
    model = tiny()
    state, report = convert_pretrained_checkpoint(src, model.state_dict(),
                                                  model.grid)
    assert report.dropped['fc_norm.weight'].startswith('fc_norm')
    torch.testing.assert_close(state['ln1.weight'], src['norm.weight'])


def test_bad_inputs_raise_clear_errors():
    model = tiny()
    own, grid = model.state_dict(), model.grid
    stem = timm_state()
    stem['patch_embed.conv.0.weight'] = torch.randn(8, 3, 3, 3)
    with pytest.raises(ValueError, match='convolutional stem'):
        convert_pretrained_checkpoint(stem, own, grid)
    wide = {k: v for k, v in timm_state().items()}
    wide['blocks.0.mlp.fc1.weight'] = torch.randn(2 * FFN, C)
    with pytest.raises(ValueError, match='blocks|fc1|ffn.layers.0.0'):
        convert_pretrained_checkpoint(wide, own, grid)
    with pytest.raises(ValueError, match='layout must be one of'):
        convert_pretrained_checkpoint(timm_state(), own, grid, layout='moco')
    with pytest.raises(ValueError, match='cannot tell the layout'):
        detect_pretrained_layout({'conv.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match="type='CLIPViT'"):
        convert_pretrained_checkpoint({'visual.conv1.weight': torch.zeros(1)},
                                      own, grid)


def test_auto_layout_keeps_mmpha_checkpoints_on_their_loader(tmp_path):
    # An mmpha backbone state dict is not a timm-style file: with
    # layout='auto' it still loads through the mmpretrain-key loader.
    src = tiny()
    path = osp.join(tmp_path, 'mmpha_backbone.pth')
    torch.save({'state_dict': src.state_dict()}, path)
    dst = tiny(
        init_cfg=dict(type='Pretrained', checkpoint=path, layout='auto'))
    dst.init_weights()
    for key, value in src.state_dict().items():
        torch.testing.assert_close(dst.state_dict()[key], value)
