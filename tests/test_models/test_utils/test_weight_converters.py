import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from mmpha.models.utils import (convert_vit_checkpoint, detect_vit_format,
                                extract_state_dict, load_weights_file,
                                resize_pos_embed_to_grid,
                                timm_to_mmpretrain_vit)


def test_timm_key_mapping():
    state = {
        'patch_embed.proj.weight': torch.zeros(1),
        'blocks.3.norm1.bias': torch.zeros(1),
        'blocks.3.attn.qkv.weight': torch.zeros(1),
        'blocks.3.mlp.fc1.weight': torch.zeros(1),
        'blocks.3.mlp.fc2.bias': torch.zeros(1),
        'blocks.3.ls1.gamma': torch.zeros(1),
        'blocks.3.ls2.gamma': torch.zeros(1),
        'norm.weight': torch.zeros(1),
        'head.weight': torch.zeros(1),
        'pre_logits.fc.weight': torch.zeros(1),
    }
    assert sorted(timm_to_mmpretrain_vit(state)) == sorted([
        'patch_embed.projection.weight', 'layers.3.ln1.bias',
        'layers.3.attn.qkv.weight', 'layers.3.ffn.layers.0.0.weight',
        'layers.3.ffn.layers.1.bias', 'layers.3.attn.gamma1.weight',
        'layers.3.ffn.gamma2.weight', 'ln1.weight'
    ])


def test_detect_format_and_extract():
    timm_sd = {'blocks.0.norm1.weight': torch.zeros(1)}
    assert detect_vit_format(timm_sd) == 'timm'
    assert detect_vit_format({'layers.0.ln1.weight': 0}) == 'mmpretrain'
    assert detect_vit_format({'backbone.layers.0.ln1.weight':
                              0}) == 'mmpretrain-classifier'
    with pytest.raises(ValueError, match='cannot tell the format'):
        detect_vit_format({'conv1.weight': 0})
    wrapped = {'model': {'module.blocks.0.norm1.weight': torch.ones(1)}}
    assert list(extract_state_dict(wrapped)) == ['blocks.0.norm1.weight']
    with pytest.raises(TypeError, match='holds no tensors'):
        extract_state_dict({'epoch': 3})
    with pytest.raises(ValueError, match='prefix "base."'):
        convert_vit_checkpoint(timm_sd, prefix='base.')


def test_resize_pos_embed_to_grid():
    pos = torch.randn(1, 1 + 16, 8)
    out = resize_pos_embed_to_grid(pos, (5, 2))
    assert out.shape == (1, 11, 8)
    grid = pos[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    expected = F.interpolate(
        grid, (5, 2), mode='bilinear',
        align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(out[:, 1:], expected)
    torch.testing.assert_close(out[:, :1], pos[:, :1])
    with pytest.raises(ValueError, match='not square'):
        resize_pos_embed_to_grid(torch.randn(1, 1 + 210, 8), (14, 14))
    same = resize_pos_embed_to_grid(
        torch.randn(1, 1 + 210, 8), (21, 10), src_grid=(21, 10))
    assert same.shape == (1, 211, 8)


def test_load_weights_file_formats(tmp_path):
    state = {'blocks.0.norm1.weight': torch.arange(3.)}
    save_file(state, osp.join(tmp_path, 'w.safetensors'))
    torch.save({'model': state}, osp.join(tmp_path, 'w.pth'))
    loaded = load_weights_file(osp.join(tmp_path, 'w.safetensors'))
    torch.testing.assert_close(loaded['blocks.0.norm1.weight'],
                               torch.arange(3.))
    loaded = load_weights_file(osp.join(tmp_path, 'w.pth'))
    torch.testing.assert_close(loaded['model']['blocks.0.norm1.weight'],
                               torch.arange(3.))


class _Payload:
    """A pickled object that is not a tensor."""


def test_load_weights_file_refuses_pickled_objects(tmp_path):
    path = osp.join(tmp_path, 'evil.pth')
    torch.save({'state_dict': {}, 'obj': _Payload()}, path)
    with pytest.raises(RuntimeError, match='Refusing to unpickle'):
        load_weights_file(path)
