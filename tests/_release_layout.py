"""Tiny models in the layout of the released TransReID / PHA code.

The tests build a state dict as the authors' code would have saved it from a
tiny mmpha model (the inverse of the converter's mapping, written out here
independently), and compute the released model's inference feature from it
with plain tensor operations, following what the release runs: ``base``
blocks ``0 .. L-2`` then ``b1`` for the global feature under JPM, ``b2`` for
the four parts after ``shuffle_unit`` (which moves ``SHIFT_NUM - 1``
tokens), ``sie_embed[cam * view_num + view]`` of shape ``(R, 1, C)``.
"""
import copy
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from _tiny_reid import TINY_ARCH
from mmengine.config import Config

TINY_MODEL_CFG = 'configs/_base_/models/transreid_vit-tiny.py'
ARCH = dict(TINY_ARCH, num_layers=3)
IMG_SIZE = (64, 32)  # a 5 x 2 grid at patch 16, stride 12
#: The release's MODEL.SHIFT_NUM; its shuffle_unit moves SHIFT_NUM - 1.
SHIFT_NUM = 5

_TO_TIMM = (('ln1.', 'norm1.'), ('ln2.', 'norm2.'), ('attn.qkv.', 'attn.qkv.'),
            ('attn.proj.', 'attn.proj.'), ('ffn.layers.0.0.', 'mlp.fc1.'),
            ('ffn.layers.1.', 'mlp.fc2.'))
_LAST = {
    'transreid': (None, 'base.norm.'),
    'transreid-jpm': ('b1.0.', 'b1.1.'),
    'pha': ('b1_block.', 'b1_norm.'),
}
_JPM = {'transreid-jpm': ('b2.0.', 'b2.1.'), 'pha': ('b2_block.', 'b2_norm.')}
_PHA = {
    'pha_head.bnnecks.x.': 'bottleneck_mask.',
    'pha_head.bnnecks.xhf.': 'bottleneck_mask_adv.',
    'pha_head.classifier.': 'classifier_mask.',
}


def model_cfg(repo_root: str,
              layout: str = 'transreid-jpm',
              camera_num: int = 0,
              view_num: int = 0,
              num_classes: int = 5,
              img_size: Sequence[int] = IMG_SIZE,
              pha: Optional[bool] = None) -> dict:
    """The tiny mmpha model config matching a release layout.

    ``shift`` is ``SHIFT_NUM - 1``: the number of tokens the release moves.
    """
    cfg = Config.fromfile(f'{repo_root}/{TINY_MODEL_CFG}').model.to_dict()
    backbone = cfg['backbone']
    backbone.update(
        arch=dict(ARCH),
        img_size=tuple(img_size),
        camera_num=camera_num,
        view_num=view_num)
    backbone.pop('init_cfg')
    cfg['head'].update(num_classes=num_classes)
    if layout == 'transreid':
        cfg['jpm'] = None
    else:
        cfg['jpm'].update(shift=SHIFT_NUM - 1)
    if layout == 'pha' if pha is None else pha:
        cfg['type'] = 'PHA'
    return cfg


def build(cfg: dict) -> torch.nn.Module:
    from mmpha.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg)).eval()


def fill_distinct(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every element of every tensor of ``model`` its own value."""
    state = model.state_dict()
    total = sum(v.numel() for v in state.values())
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(total, generator=gen).double() + 1
    sign = torch.randint(0, 2, (total, ), generator=gen).double() * 2 - 1
    values = (perm / total * 0.5 * sign).float()
    start = 0
    with torch.no_grad():
        for key, tensor in state.items():
            chunk = values[start:start + tensor.numel()].view_as(tensor)
            if key.endswith('jpm_shift'):
                pass  # the JPM shift, a setting: keep the release's
            elif tensor.dtype == torch.int64:
                tensor.fill_(start)
            elif key.endswith(('running_var', 'weight')) and 'bnnecks' in key:
                tensor.copy_(chunk.abs() + 0.5)
            elif re.search(r'(ln\d|norm)\.weight$', key):
                tensor.copy_(chunk + 1.0)
            else:
                tensor.copy_(chunk)
            start += tensor.numel()


def _timm(rest: str) -> str:
    for mine, theirs in _TO_TIMM:
        if rest.startswith(mine):
            return theirs + rest[len(mine):]
    raise KeyError(rest)


def to_release(state: Dict[str, torch.Tensor],
               layout: str,
               dead: bool = True,
               seed: int = 1) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """An mmpha state dict in the layout the release saves.

    Returns:
        tuple: The release state dict and the keys of its dead tensors
        (filled with fresh values), which a converter must leave out.
    """
    depth = 1 + max(
        int(m.group(1))
        for m in map(re.compile(r'^backbone\.layers\.(\d+)\.').match, state)
        if m)
    last_block, last_norm = _LAST[layout]
    last_block = last_block or f'base.blocks.{depth - 1}.'
    jpm_block, jpm_norm = _JPM.get(layout, (None, None))
    out = {}
    for key, value in state.items():
        block = re.match(r'^backbone\.layers\.(\d+)\.(.*)$', key)
        bnneck = re.match(r'^head\.(bnnecks|classifiers)\.(\d+)\.(.*)$', key)
        if key == 'jpm.jpm_shift':
            continue  # the release config's SHIFT_NUM, not a tensor
        if key == 'backbone.sie_embed':
            out['base.sie_embed'] = value[:, None].clone()
        elif key in ('backbone.cls_token', 'backbone.pos_embed'):
            out['base.' + key[len('backbone.'):]] = value
        elif key.startswith('backbone.patch_embed.projection.'):
            out['base.patch_embed.proj.' + key.rsplit('.', 1)[1]] = value
        elif block:
            index, rest = int(block.group(1)), block.group(2)
            prefix = last_block if index == depth - 1 else \
                f'base.blocks.{index}.'
            out[prefix + _timm(rest)] = value
        elif key.startswith('backbone.ln1.'):
            out[last_norm + key[len('backbone.ln1.'):]] = value
        elif key.startswith('jpm.block.'):
            out[jpm_block + _timm(key[len('jpm.block.'):])] = value
        elif key.startswith('jpm.norm.'):
            out[jpm_norm + key[len('jpm.norm.'):]] = value
        elif bnneck:
            kind, index, rest = bnneck.groups()
            name = 'bottleneck' if kind == 'bnnecks' else 'classifier'
            suffix = '' if index == '0' else f'_{index}'
            out[f'{name}{suffix}.{rest}'] = value
        elif any(key.startswith(p) for p in _PHA):
            prefix = next(p for p in _PHA if key.startswith(p))
            out[_PHA[prefix] + key[len(prefix):]] = value
        else:
            raise KeyError(f'no release name for {key}')
    dead_keys = []
    if dead:
        gen = torch.Generator().manual_seed(seed)
        extra = {}
        width = state['backbone.cls_token'].shape[-1]
        extra['base.fc.weight'] = torch.randn(1000, width, generator=gen)
        extra['base.fc.bias'] = torch.randn(1000, generator=gen)
        if layout != 'transreid':
            for key in [k for k in out if k.startswith(last_block)]:
                extra[f'base.blocks.{depth - 1}.' + key[len(last_block):]] = \
                    torch.randn(out[key].shape, generator=gen)
            for key in [k for k in out if k.startswith(last_norm)]:
                extra['base.norm.' + key[len(last_norm):]] = torch.randn(
                    out[key].shape, generator=gen)
        if layout == 'pha':
            for src, dst in (('b1_block.',
                              'b1_block_mask.'), ('b1_norm.', 'b1_norm_mask.'),
                             ('classifier_mask.', 'classifier_mask_branch.'),
                             ('bottleneck_mask.', 'bottleneck_mask_branch.')):
                for key in [k for k in out if k.startswith(src)]:
                    extra[dst + key[len(src):]] = out[key].clone() + 1
        out.update(extra)
        dead_keys = sorted(extra)
    return out, dead_keys


def _block(rsd: Dict[str, torch.Tensor], prefix: str, tokens: torch.Tensor,
           num_heads: int) -> torch.Tensor:
    """One timm ViT block of the release (eval mode)."""

    def p(name):
        return rsd[prefix + name]

    batch, length, width = tokens.shape
    h = F.layer_norm(tokens, (width, ), p('norm1.weight'), p('norm1.bias'),
                     1e-6)
    qkv = F.linear(h, p('attn.qkv.weight'), p('attn.qkv.bias'))
    q, k, v = qkv.reshape(batch, length, 3, num_heads,
                          width // num_heads).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1) * (width // num_heads)**-0.5).softmax(-1)
    out = (attn @ v).transpose(1, 2).reshape(batch, length, width)
    tokens = tokens + F.linear(out, p('attn.proj.weight'), p('attn.proj.bias'))
    h = F.layer_norm(tokens, (width, ), p('norm2.weight'), p('norm2.bias'),
                     1e-6)
    h = F.linear(
        F.gelu(F.linear(h, p('mlp.fc1.weight'), p('mlp.fc1.bias'))),
        p('mlp.fc2.weight'), p('mlp.fc2.bias'))
    return tokens + h


def release_features(rsd: Dict[str, torch.Tensor],
                     x: torch.Tensor,
                     layout: str,
                     cam: Optional[torch.Tensor] = None,
                     view: Optional[torch.Tensor] = None,
                     view_num: int = 0,
                     neck_feat: str = 'before',
                     num_heads: int = ARCH['num_heads'],
                     stride: int = 12,
                     sie_coef: float = 3.0,
                     shift_num: int = SHIFT_NUM,
                     groups: int = 2,
                     parts: int = 4) -> torch.Tensor:
    """The release model's test feature, from its state dict."""
    rsd = {re.sub(r'^module\.', '', k): v for k, v in rsd.items()}
    depth = 1 + max(
        int(m.group(1))
        for m in map(re.compile(r'^base\.blocks\.(\d+)\.').match, rsd) if m)
    batch = x.shape[0]
    tokens = F.conv2d(
        x,
        rsd['base.patch_embed.proj.weight'],
        rsd['base.patch_embed.proj.bias'],
        stride=stride).flatten(2).transpose(1, 2)
    width = tokens.shape[-1]
    tokens = torch.cat([rsd['base.cls_token'].expand(batch, -1, -1), tokens],
                       1) + rsd['base.pos_embed']
    if 'base.sie_embed' in rsd:
        if cam is not None and view is not None:
            index = cam * view_num + view
        else:
            index = cam if cam is not None else view
        tokens = tokens + sie_coef * rsd['base.sie_embed'][index]

    def bn(feat, prefix):
        return F.batch_norm(
            feat,
            rsd[prefix + 'running_mean'],
            rsd[prefix + 'running_var'],
            rsd[prefix + 'weight'],
            rsd[prefix + 'bias'],
            training=False,
            eps=1e-5)

    def norm(t, prefix):
        return F.layer_norm(t, (width, ), rsd[prefix + 'weight'],
                            rsd[prefix + 'bias'], 1e-6)

    if layout == 'transreid':
        for i in range(depth):
            tokens = _block(rsd, f'base.blocks.{i}.', tokens, num_heads)
        feat = norm(tokens, 'base.norm.')[:, 0]
        return bn(feat, 'bottleneck.') if neck_feat == 'after' else feat
    for i in range(depth - 1):
        tokens = _block(rsd, f'base.blocks.{i}.', tokens, num_heads)
    last_block, last_norm = _LAST[layout]
    jpm_block, jpm_norm = _JPM[layout]
    feats = [norm(_block(rsd, last_block, tokens, num_heads), last_norm)[:, 0]]
    # shuffle_unit(features, shift_num, groups) of the release.
    shifted = torch.cat([tokens[:, shift_num:], tokens[:, 1:shift_num]], 1)
    shuffled = shifted.view(batch, groups, -1,
                            width).transpose(1, 2).reshape(batch, -1, width)
    length = (tokens.shape[1] - 1) // parts
    for i in range(parts):
        part = torch.cat(
            [tokens[:, :1], shuffled[:, i * length:(i + 1) * length]], 1)
        feats.append(
            norm(_block(rsd, jpm_block, part, num_heads), jpm_norm)[:, 0])
    if neck_feat == 'after':
        feats = [bn(feats[0], 'bottleneck.')] + [
            bn(f, f'bottleneck_{i}.') for i, f in enumerate(feats[1:], 1)
        ]
    return torch.cat([feats[0]] + [f / 4 for f in feats[1:]], 1)
