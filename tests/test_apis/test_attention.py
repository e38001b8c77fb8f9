import glob
import os.path as osp

import numpy as np
import pytest
import torch
from _tiny_reid import TINY_LAYERS, save_checkpoint, tiny_config

import mmpha.apis.attention as attention
from mmpha.apis import (attention_maps, attention_rollout, collect_attentions,
                        init_model, normalize_maps, tokens_to_pixels)

TINY_BOT_CFG = ('configs/bot/bot_r18-tiny_scratch_1xb32-8x4_16e_synthreid-'
                '128x64.py')
# The tiny configs' input, 128x64, gives a 10x5 grid of 16x16 windows at
# stride 12: rows 0..123 and columns 0..63 are seen.
IMG = (128, 64)
GRID = (10, 5)


@pytest.fixture(scope='module')
def vit(tiny_files):
    return init_model(tiny_files['transreid_cfg'],
                      tiny_files['transreid_ckpt'])


@pytest.fixture(scope='module')
def bot_files(repo_root, tiny_data_root, tmp_path_factory):
    work = tmp_path_factory.mktemp('bot')
    cfg = tiny_config(repo_root, TINY_BOT_CFG, tiny_data_root, str(work))
    path = str(work / 'bot_tiny.py')
    cfg.dump(path)
    torch.manual_seed(0)
    ckpt = save_checkpoint(init_model(path), str(work / 'bot.pth'))
    return dict(cfg=path, ckpt=ckpt)


def _inputs(model, tiny_data_root, num=2):
    from mmpha.apis import iter_batches
    paths = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))
    return next(iter_batches(model, paths[:num], batch_size=num))


def _reference_pixels(values, img_size, kernel, stride, padding):
    """Loop over windows: the definition written out."""
    total = np.zeros(img_size)
    count = np.zeros(img_size)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            y0, x0 = i * stride[0] - padding[0], j * stride[1] - padding[1]
            ys = slice(max(y0, 0), max(min(y0 + kernel[0], img_size[0]), 0))
            xs = slice(max(x0, 0), max(min(x0 + kernel[1], img_size[1]), 0))
            total[ys, xs] += values[i, j]
            count[ys, xs] += 1
    return np.where(count > 0, total / np.maximum(count, 1), 0)


@pytest.mark.parametrize('img_size,kernel,stride,padding', [
    ((128, 64), (16, 16), (12, 12), (0, 0)),
    ((30, 22), (5, 4), (3, 2), (0, 0)),
    ((32, 32), (8, 8), (8, 8), (2, 3)),
])
def test_tokens_to_pixels_matches_the_window_loop(img_size, kernel, stride,
                                                  padding):
    grid = ((img_size[0] + padding[0] - kernel[0]) // stride[0] + 1,
            (img_size[1] + padding[1] - kernel[1]) // stride[1] + 1)
    values = torch.rand(2, *grid, generator=torch.Generator().manual_seed(0))
    out = tokens_to_pixels(values, img_size, kernel, stride, padding)
    assert out.shape == (2, *img_size)
    for b in range(2):
        ref = _reference_pixels(values[b].numpy(), img_size, kernel, stride,
                                padding)
        np.testing.assert_allclose(out[b].numpy(), ref, atol=1e-6)
    # Not a resize: overlap pixels average their two windows.
    if kernel[0] > stride[0]:
        row = stride[0] + 1
        assert torch.isclose(out[0, row, 0],
                             (values[0, 0, 0] + values[0, 1, 0]) / 2)


def test_recomputed_attention_reproduces_the_block(vit, tiny_data_root):
    data = _inputs(vit, tiny_data_root)
    block = vit.backbone.layers[0]
    cams, views = vit.side_info(data['data_samples'], data['inputs'].device, 2)
    tokens = vit.backbone.embed(data['inputs'], cams, views)
    x = block.ln1(tokens)
    probs = attention.attention_probabilities(block.attn, x)
    assert probs.shape == (2, block.attn.num_heads, 51, 51)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 2, 51))
    # softmax(qk^T/sqrt(d)) v, merged and projected, is the module's output.
    v = block.attn.qkv(x).reshape(2, 51, 3, block.attn.num_heads,
                                  -1)[:, :, 2].transpose(1, 2)
    merged = (probs @ v).transpose(1, 2).reshape(2, 51, -1)
    with torch.no_grad():
        torch.testing.assert_close(
            block.attn.proj(merged), block.attn(x), atol=1e-5, rtol=1e-4)
    found = collect_attentions(vit, data['inputs'], data['data_samples'])
    assert len(found) == TINY_LAYERS
    torch.testing.assert_close(found[0], probs.detach())


def _patched(monkeypatch, make):
    """Replace the attention of every block by a hand-made matrix."""

    def fake(attn, x):
        return make(x.shape[0], attn.num_heads, x.shape[1])

    monkeypatch.setattr(attention, 'attention_probabilities', fake)


def test_identity_attention_rolls_out_to_the_identity(vit, tiny_data_root,
                                                      monkeypatch):
    _patched(monkeypatch,
             lambda b, h, t: torch.eye(t).expand(b, h, t, t).clone())
    data = _inputs(vit, tiny_data_root)
    found = collect_attentions(vit, data['inputs'], data['data_samples'])
    rollout = attention_rollout(found)
    assert torch.equal(rollout, torch.eye(51).expand(2, 51, 51))
    # The class token draws only on itself: no patch gets any weight, and
    # the maps are zero everywhere (not a uniform 1).
    maps = attention_maps(vit, data['inputs'], ('rollout', 'cls'),
                          data['data_samples'])
    for name in ('rollout', 'cls'):
        assert maps[name].shape == (2, *IMG)
        assert not maps[name].any(), name


def test_uniform_attention_gives_a_uniform_map(vit, tiny_data_root,
                                               monkeypatch):
    _patched(monkeypatch, lambda b, h, t: torch.full((b, h, t, t), 1.0 / t))
    data = _inputs(vit, tiny_data_root)
    found = collect_attentions(vit, data['inputs'], data['data_samples'])
    rollout = attention_rollout(found)
    # U^2 = U, so ((U + I) / 2)^L = (1 - 2^-L) U + 2^-L I.
    num_layers, t = TINY_LAYERS, 51
    expected = ((1 - 2.0**-num_layers) / t * torch.ones(t, t) +
                2.0**-num_layers * torch.eye(t))
    torch.testing.assert_close(rollout[0], expected)
    maps = attention_maps(vit, data['inputs'], ('rollout', 'cls'),
                          data['data_samples'])
    seen = 12 * (GRID[0] - 1) + 16
    for name in ('rollout', 'cls'):
        np.testing.assert_allclose(maps[name][:, :seen], 1.0, rtol=1e-6)
        # The last rows are in no patch window.
        assert not maps[name][:, seen:].any()


@pytest.mark.parametrize('patch', [0, 12, 49])
def test_attention_on_one_patch_lights_up_its_window(vit, tiny_data_root,
                                                     monkeypatch, patch):

    def one_hot(b, h, t):
        attn = torch.zeros(b, h, t, t)
        attn[..., 1 + patch] = 1.0
        return attn

    _patched(monkeypatch, one_hot)
    data = _inputs(vit, tiny_data_root)
    rollout = attention_rollout(
        collect_attentions(vit, data['inputs'], data['data_samples']))
    row = torch.zeros(51)
    row[0], row[1 + patch] = 2.0**-TINY_LAYERS, 1 - 2.0**-TINY_LAYERS
    torch.testing.assert_close(rollout[0, 0], row)
    i, j = divmod(patch, GRID[1])
    window = np.zeros(IMG, dtype=bool)
    window[12 * i:12 * i + 16, 12 * j:12 * j + 16] = True
    maps = attention_maps(vit, data['inputs'], ('rollout', 'cls'),
                          data['data_samples'])
    for name in ('rollout', 'cls'):
        m = maps[name][0]
        assert m.max() == 1.0
        assert window[m == 1.0].all(), name
        assert not m[~window].any(), name
        # The window's pixels shared with a neighbour hold half.
        assert set(np.unique(m[window]).round(6)) <= {1.0, 0.5, 0.25}


def test_rollout_discard_and_errors():
    attn = torch.tensor([[[[0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.3, 0.3,
                                                              0.4]]]])
    # discard 1 of the 2 patch columns per row: the lower one.
    kept = torch.tensor([[0.5, 0.0, 0.4], [0.2, 0.0, 0.5], [0.3, 0.0, 0.4]])
    kept = kept + torch.eye(3)
    kept = kept / kept.sum(1, keepdim=True)
    torch.testing.assert_close(
        attention_rollout([attn], discard_ratio=0.5)[0], kept)
    with pytest.raises(ValueError, match='discard_ratio must be in'):
        attention_rollout([attn], discard_ratio=1.0)
    with pytest.raises(ValueError, match='head_fusion'):
        attention_rollout([attn], head_fusion='median')
    torch.testing.assert_close(
        normalize_maps(torch.tensor([[[0., 2.], [1., 4.]]])),
        torch.tensor([[[0., .5], [.25, 1.]]]))


def test_grad_cam_of_a_bot_model(bot_files, tiny_data_root, vit):
    bot = init_model(bot_files['cfg'], bot_files['ckpt'])
    data = _inputs(bot, tiny_data_root)
    maps = attention_maps(bot, data['inputs'])
    assert list(maps) == ['gradcam']
    cam = maps['gradcam']
    assert cam.shape == (2, *IMG) and cam.dtype == np.float32
    assert cam.min() >= 0 and np.allclose(cam.max(axis=(1, 2)), 1.0)

    # Reference: hooks on the last stage, the textbook recipe.
    store = {}
    layer = bot.backbone.layer4

    def hook(module, args, out):
        store['fmap'] = out
        out.register_hook(lambda grad: store.update(grad=grad))

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            feat = bot.extract_feat(data['inputs'])
            feat.norm(dim=1).sum().backward()
    finally:
        handle.remove()
        bot.zero_grad()
    weights = store['grad'].mean((2, 3), keepdim=True)
    ref = torch.relu((weights * store['fmap']).sum(1, keepdim=True))
    ref = torch.nn.functional.interpolate(
        ref, size=IMG, mode='bilinear', align_corners=False)[:, 0]
    ref = ref / ref.flatten(1).amax(1)[:, None, None]
    np.testing.assert_allclose(cam, ref.detach().numpy(), atol=1e-5)
    logit = attention_maps(
        bot, data['inputs'], ['gradcam'], target='id_logit')['gradcam']
    assert logit.shape == cam.shape

    with pytest.raises(ValueError, match='need a ViT backbone.*gradcam'):
        attention_maps(bot, data['inputs'], ['rollout'])
    with pytest.raises(ValueError, match='needs a CNN feature map'):
        attention_maps(vit, data['inputs'], ['gradcam'], data['data_samples'])
    with pytest.raises(ValueError, match=r"unknown attention methods \['x'\]"):
        attention_maps(bot, data['inputs'], ['x'])
