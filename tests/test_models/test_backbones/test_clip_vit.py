"""CLIPViT: OpenAI-layout weights load strictly and give CLIP's features."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmpha.models import CLIPViT, ReIDModel
from mmpha.models.backbones import backbone_channels

WIDTH, DEPTH, HEADS, EMBED, PATCH = 32, 2, 4, 24, 8
ARCH = dict(
    embed_dims=WIDTH,
    num_layers=DEPTH,
    num_heads=HEADS,
    feedforward_channels=4 * WIDTH)
CLIP_SIZE = 32  # a 4x4 grid, as CLIP's 224 / 16 = 14x14


def openai_clip_state(grid=4):
    """Random tensors in OpenAI CLIP's layout, text tower included."""
    w = WIDTH
    state = {
        'visual.conv1.weight': torch.randn(w, 3, PATCH, PATCH) * 0.05,
        'visual.class_embedding': torch.randn(w),
        'visual.positional_embedding': torch.randn(1 + grid * grid, w),
        'visual.ln_pre.weight': 1 + 0.1 * torch.randn(w),
        'visual.ln_pre.bias': 0.1 * torch.randn(w),
        'visual.ln_post.weight': 1 + 0.1 * torch.randn(w),
        'visual.ln_post.bias': 0.1 * torch.randn(w),
        'visual.proj': torch.randn(w, EMBED) * w**-0.5,
        # Text tower and shared scalars: dropped.
        'token_embedding.weight': torch.randn(10, 16),
        'positional_embedding': torch.randn(5, 16),
        'transformer.resblocks.0.ln_1.weight': torch.randn(16),
        'ln_final.weight': torch.randn(16),
        'text_projection': torch.randn(16, EMBED),
        'logit_scale': torch.tensor(4.6),
    }
    for i in range(DEPTH):
        p = f'visual.transformer.resblocks.{i}.'
        state.update({
            p + 'attn.in_proj_weight':
            torch.randn(3 * w, w) * w**-0.5,
            p + 'attn.in_proj_bias':
            0.1 * torch.randn(3 * w),
            p + 'attn.out_proj.weight':
            torch.randn(w, w) * w**-0.5,
            p + 'attn.out_proj.bias':
            0.1 * torch.randn(w),
            p + 'ln_1.weight':
            1 + 0.1 * torch.randn(w),
            p + 'ln_1.bias':
            0.1 * torch.randn(w),
            p + 'mlp.c_fc.weight':
            torch.randn(4 * w, w) * w**-0.5,
            p + 'mlp.c_fc.bias':
            0.1 * torch.randn(4 * w),
            p + 'mlp.c_proj.weight':
            torch.randn(w, 4 * w) * (4 * w)**-0.5,
            p + 'mlp.c_proj.bias':
            0.1 * torch.randn(w),
            p + 'ln_2.weight':
            1 + 0.1 * torch.randn(w),
            p + 'ln_2.bias':
            0.1 * torch.randn(w),
        })
    return state


def reference_clip_image(state, x):
    """OpenAI CLIP's VisionTransformer forward in plain torch."""
    v = {
        k[len('visual.'):]: t
        for k, t in state.items() if k.startswith('visual.')
    }
    x = F.conv2d(x, v['conv1.weight'], stride=PATCH)
    x = x.flatten(2).transpose(1, 2)  # (B, N, W)
    cls = v['class_embedding'].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + v['positional_embedding']
    x = F.layer_norm(x, (WIDTH, ), v['ln_pre.weight'], v['ln_pre.bias'])
    for i in range(DEPTH):
        p = f'transformer.resblocks.{i}.'
        attn = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
        attn.in_proj_weight.data = v[p + 'attn.in_proj_weight']
        attn.in_proj_bias.data = v[p + 'attn.in_proj_bias']
        attn.out_proj.weight.data = v[p + 'attn.out_proj.weight']
        attn.out_proj.bias.data = v[p + 'attn.out_proj.bias']
        h = F.layer_norm(x, (WIDTH, ), v[p + 'ln_1.weight'],
                         v[p + 'ln_1.bias'])
        x = x + attn(h, h, h, need_weights=False)[0]
        h = F.layer_norm(x, (WIDTH, ), v[p + 'ln_2.weight'],
                         v[p + 'ln_2.bias'])
        h = F.linear(h, v[p + 'mlp.c_fc.weight'], v[p + 'mlp.c_fc.bias'])
        h = h * torch.sigmoid(1.702 * h)  # QuickGELU
        x = x + F.linear(h, v[p + 'mlp.c_proj.weight'],
                         v[p + 'mlp.c_proj.bias'])
    cls = F.layer_norm(x[:, 0], (WIDTH, ), v['ln_post.weight'],
                       v['ln_post.bias'])
    return cls, cls @ v['proj']


def clip_vit(img_size=(CLIP_SIZE, CLIP_SIZE), stride=PATCH, **kwargs):
    return CLIPViT(
        arch=dict(ARCH),
        img_size=img_size,
        patch_size=PATCH,
        stride=stride,
        proj_dims=EMBED,
        **kwargs)


@pytest.fixture
def clip_file(tmp_path):
    state = openai_clip_state()
    path = osp.join(tmp_path, 'clip_vit_tiny.pth')
    torch.save(state, path)
    return state, path


def test_clip_strict_mapping_and_reference_forward(clip_file):
    state, path = clip_file
    model = clip_vit()
    result = model.load_pretrained(path)
    report = result.report
    assert report.layout == 'clip'
    assert set(report.mapped) | set(report.dropped) == set(state)
    assert {k
            for k in report.dropped
            } == {k
                  for k in state if not k.startswith('visual.')}
    assert set(report.dropped.values()) == {'CLIP text encoder'}
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert model.patch_embed.projection.bias is None
    torch.testing.assert_close(
        model.layers[1].attn.qkv.weight,
        state['visual.transformer.resblocks.1.'
              'attn.in_proj_weight'])
    torch.testing.assert_close(model.pre_norm.bias,
                               state['visual.ln_pre.bias'])
    torch.testing.assert_close(model.cls_token.flatten(),
                               state['visual.class_embedding'])

    x = torch.randn(2, 3, CLIP_SIZE, CLIP_SIZE)
    model.eval()
    with torch.no_grad():
        ref_feat, ref_embed = reference_clip_image(state, x)
        torch.testing.assert_close(model(x), ref_feat, atol=1e-5, rtol=0)
        torch.testing.assert_close(
            model.clip_embedding(x), ref_embed, atol=1e-5, rtol=0)
        after = clip_vit(reid_feature='after_proj')
        after.load_pretrained(path)
        after.eval()
        torch.testing.assert_close(after(x), ref_embed, atol=1e-5, rtol=0)
    assert backbone_channels(after) == EMBED
    assert backbone_channels(model) == WIDTH


def test_clip_resized_grid_for_reid(clip_file):
    state, path = clip_file
    # A 64x32 person crop with stride 6: a 10x5 grid instead of 4x4.
    model = clip_vit(
        img_size=(64, 32),
        stride=6,
        init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    pos = state['visual.positional_embedding'][None]
    grid = pos[:, 1:].reshape(1, 4, 4, WIDTH).permute(0, 3, 1, 2)
    expected = F.interpolate(
        grid, (10, 5), mode='bilinear',
        align_corners=False).flatten(2).transpose(1, 2)
    torch.testing.assert_close(model.pos_embed[:, 1:], expected)
    torch.testing.assert_close(model.pos_embed[:, 0], pos[:, 0])
    feats = model.forward_reid(torch.randn(2, 3, 64, 32))
    assert feats.global_feat.shape == (2, WIDTH)
    assert feats.tokens.shape == (2, 1 + 50, WIDTH)


def test_clip_in_reid_model_and_jpm_check():
    backbone = dict(
        type='CLIPViT',
        arch=dict(ARCH),
        img_size=(64, 32),
        patch_size=PATCH,
        stride=PATCH,
        proj_dims=EMBED,
        reid_feature='after_proj')
    head = dict(type='ReIDHead', num_classes=3)
    model = ReIDModel(backbone=backbone, head=head)
    assert model.head.in_channels == EMBED
    with pytest.raises(ValueError, match="before_proj"):
        ReIDModel(
            backbone=backbone,
            head=head,
            jpm=dict(type='JPM', num_parts=2, shift=1, shuffle_groups=2))


def test_clip_bad_args():
    with pytest.raises(ValueError, match='reid_feature'):
        clip_vit(reid_feature='proj')
    with pytest.raises(ValueError, match='act_cfg type'):
        clip_vit(act_cfg=dict(type='NoSuchAct'))
