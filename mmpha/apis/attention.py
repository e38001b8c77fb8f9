"""Where a re-ID model looks: attention rollout, class-token attention and
Grad-CAM, as maps in pixel space.

Symbols used in the shapes: ``B`` images, ``H x W`` input size, ``L``
transformer blocks, ``h`` heads, ``T = 1 + N`` tokens (class token first),
``N = Hp * Wp`` patch tokens in raster order, ``C`` channels of a CNN
feature map of size ``h' x w'``.

Token maps are brought back to pixels through the patch embedding's
geometry: patch token ``(i, j)`` was computed from the ``kh x kw`` window
whose top-left corner is ``(i * sh - pad_top, j * sw - pad_left)``; each
pixel receives the mean value of the tokens whose windows cover it. With
TransReID's overlapping patches (kernel 16, stride 12, no padding) this is
not a resize of the ``Hp x Wp`` grid to ``H x W``: windows overlap by 4
pixels and the last ``(H - kh) % sh`` rows and ``(W - kw) % sw`` columns
are seen by no token (they stay 0).
"""
import math
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .inference import ImageList, iter_batches

AttentionMethod = Literal['rollout', 'cls', 'gradcam']
GradCamTarget = Literal['feature_norm', 'id_logit']
#: The methods of a transformer backbone and of a CNN backbone.
VIT_METHODS = ('rollout', 'cls')
CNN_METHODS = ('gradcam', )
ALL_METHODS = VIT_METHODS + CNN_METHODS


# ------------------------------------------------------------- geometry
def patch_embed_geometry(
    backbone: nn.Module, img_size: Tuple[int, int]
) -> Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int]]:
    """Kernel, stride and top-left padding of a ViT's patch embedding.

    Both kinds of padding of mmcv's ``PatchEmbed`` are read: the
    convolution's own ``padding`` and the ``AdaptivePadding`` module
    (``'corner'`` pads bottom-right only, ``'same'`` splits the padding).

    Args:
        backbone (nn.Module): A ViT with ``patch_embed.projection`` (a
            ``Conv2d``) and ``patch_embed.adaptive_padding``.
        img_size (tuple[int, int]): Input ``(H, W)``.

    Returns:
        tuple: ``(kh, kw)`` kernel, ``(sh, sw)`` stride and ``(top, left)``
        padding in pixels.
    """
    embed = getattr(backbone, 'patch_embed', None)
    conv = getattr(embed, 'projection', None)
    if not isinstance(conv, nn.Conv2d):
        raise ValueError(f'{type(backbone).__name__} has no patch_embed.'
                         'projection convolution to map tokens to pixels')
    kernel = tuple(int(k) for k in conv.kernel_size)
    stride = tuple(int(s) for s in conv.stride)
    top, left = (int(p) for p in conv.padding)
    adaptive = getattr(embed, 'adaptive_padding', None)
    if adaptive is not None:
        pad_h, pad_w = adaptive.get_pad_shape(img_size)
        if adaptive.padding == 'same':
            top, left = top + pad_h // 2, left + pad_w // 2
    return kernel, stride, (top, left)


def tokens_to_pixels(token_maps: Tensor,
                     img_size: Tuple[int, int],
                     patch_size: Tuple[int, int],
                     stride: Tuple[int, int],
                     padding: Tuple[int, int] = (0, 0)) -> Tensor:
    """Per-patch values as a pixel map, averaged over overlapping windows.

    Args:
        token_maps (Tensor): ``(B, Hp, Wp)`` one value per patch token.
        img_size (tuple[int, int]): Input ``(H, W)``.
        patch_size (tuple[int, int]): Kernel ``(kh, kw)``.
        stride (tuple[int, int]): Stride ``(sh, sw)``.
        padding (tuple[int, int]): Padding ``(top, left)`` of the patch
            embedding: window ``(i, j)`` starts at pixel
            ``(i * sh - top, j * sw - left)``. Defaults to ``(0, 0)``.

    Returns:
        Tensor: ``(B, H, W)``; every pixel holds the mean value of the
        windows covering it, 0 where no window does.
    """
    if token_maps.dim() != 3:
        raise ValueError('token_maps must be (B, Hp, Wp), got shape '
                         f'{tuple(token_maps.shape)}')
    values = token_maps.float()[:, None]
    ones = torch.ones(1, 1, *patch_size, device=values.device)
    # A transposed convolution with a box kernel adds each token's value to
    # its whole window: the sum per pixel and, for ones, the coverage.
    total = F.conv_transpose2d(values, ones, stride=stride)[:, 0]
    cover = F.conv_transpose2d(
        torch.ones_like(values[:1]), ones, stride=stride)[:, 0]
    height, width = img_size
    top, left = padding
    need_h = top + height - total.shape[1]
    need_w = left + width - total.shape[2]
    if need_h > 0 or need_w > 0:
        pad = (0, max(need_w, 0), 0, max(need_h, 0))
        total, cover = F.pad(total, pad), F.pad(cover, pad)
    total = total[:, top:top + height, left:left + width]
    cover = cover[:, top:top + height, left:left + width]
    return torch.where(cover > 0, total / cover.clamp(min=1),
                       torch.zeros_like(total))


def normalize_maps(maps: Tensor) -> Tensor:
    """Scale non-negative maps to ``[0, 1]`` by their maximum, per image.

    Division by the maximum (not min-max) keeps 0 meaning "no attention":
    a uniform map becomes all ones, an all-zero map stays zero.

    Args:
        maps (Tensor): ``(B, H, W)`` non-negative maps.

    Returns:
        Tensor: ``(B, H, W)`` in ``[0, 1]``.
    """
    maps = maps.float().clamp(min=0)
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    return torch.where(peak > 0, maps / peak.clamp(min=1e-12),
                       torch.zeros_like(maps))


# ------------------------------------------------------------ attention
def attention_probabilities(attn: nn.Module, x: Tensor) -> Tensor:
    """The softmax attention of one mmpretrain ``MultiheadAttention``.

    mmpretrain computes attention with PyTorch's fused
    ``scaled_dot_product_attention``, which does not return the weights;
    they are recomputed here from the module's own ``qkv`` projection as
    ``softmax(q k^T / sqrt(d))``.

    Args:
        attn (nn.Module): The attention module (``qkv``, ``num_heads``,
            ``head_dims``).
        x (Tensor): ``(B, T, C)`` its input (the block's ``ln1`` output).

    Returns:
        Tensor: ``(B, h, T, T)``, rows summing to 1.
    """
    batch, num, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, num, 3, attn.num_heads, attn.head_dims)
    q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(attn.head_dims)
    return scores.float().softmax(dim=-1)


def _transformer_blocks(model: nn.Module) -> Sequence[nn.Module]:
    backbone = getattr(model, 'backbone', model)
    blocks = getattr(backbone, 'layers', None)
    if (not callable(getattr(backbone, 'embed', None)) or blocks is None or
            not all(hasattr(getattr(b, 'attn', None), 'qkv') for b in blocks)):
        raise ValueError(
            f'attention rollout and class-token attention need a ViT '
            f'backbone (embed() and blocks with attn.qkv, e.g. '
            f'TransReIDViT); {type(backbone).__name__} has none: use '
            f'"gradcam"')
    return blocks


@torch.no_grad()
def collect_attentions(model: nn.Module,
                       inputs: Tensor,
                       data_samples: Optional[Sequence] = None
                       ) -> List[Tensor]:
    """The attention probabilities of every block of a ViT re-ID model.

    A forward pre-hook on each block's attention module recomputes its
    weights with :func:`attention_probabilities` from its input.

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` with a ViT
            backbone.
        inputs (Tensor): ``(B, 3, H, W)`` normalised images.
        data_samples (Sequence[ReIDDataSample], optional): Camera / view ids
            for SIE. Defaults to None.

    Returns:
        list[Tensor]: ``L`` tensors ``(B, h, T, T)``, first block first.
    """
    blocks = _transformer_blocks(model)
    found: List[Tensor] = []

    def hook(module: nn.Module, args: tuple) -> None:
        found.append(attention_probabilities(module, args[0]))

    handles = [block.attn.register_forward_pre_hook(hook) for block in blocks]
    try:
        cam_ids, view_ids = model.side_info(data_samples, inputs.device,
                                            inputs.shape[0])
        tokens = model.backbone.embed(inputs, cam_ids, view_ids)
        for block in blocks:
            tokens = block(tokens)
    finally:
        for handle in handles:
            handle.remove()
    return found


def attention_rollout(attentions: Sequence[Tensor],
                      discard_ratio: float = 0.0,
                      head_fusion: Literal['mean', 'max',
                                           'min'] = 'mean') -> Tensor:
    """Attention rollout (Abnar & Zuidema, ACL 2020, Sec. 3).

    Per block the heads are fused, the identity is added for the residual
    connection and rows are renormalised, ``A' = (A + I) / rowsum``; the
    rollout is ``A'_L ... A'_1``.

    Args:
        attentions (Sequence[Tensor]): ``L`` tensors ``(B, h, T, T)``.
        discard_ratio (float): Share of the lowest entries of each row set
            to 0 before adding the identity (the class-token column is
            kept); 0 is the paper's rollout. Defaults to 0.
        head_fusion (str): ``'mean'`` (the paper), ``'max'`` or ``'min'``
            over heads. Defaults to ``'mean'``.

    Returns:
        Tensor: ``(B, T, T)``; row 0 is how much the class token draws on
        each input token.
    """
    if not attentions:
        raise ValueError('attentions is empty: give one tensor per block')
    if not 0 <= discard_ratio < 1:
        raise ValueError(f'discard_ratio must be in [0, 1), got '
                         f'{discard_ratio}')
    fuse = dict(
        mean=lambda a: a.mean(1),
        max=lambda a: a.amax(1),
        min=lambda a: a.amin(1)).get(head_fusion)
    if fuse is None:
        raise ValueError(f'head_fusion must be "mean", "max" or "min", got '
                         f'{head_fusion!r}')
    rollout = None
    for attn in attentions:
        fused = fuse(attn.float())
        num = fused.shape[-1]
        if discard_ratio > 0:
            drop = int(discard_ratio * (num - 1))
            if drop:
                low = fused[..., 1:].topk(drop, dim=-1, largest=False).indices
                fused = fused.clone()
                fused[..., 1:] = fused[..., 1:].scatter(-1, low, 0.0)
        eye = torch.eye(num, device=fused.device, dtype=fused.dtype)
        fused = fused + eye
        fused = fused / fused.sum(dim=-1, keepdim=True)
        rollout = fused if rollout is None else fused @ rollout
    return rollout


def _cls_row_to_pixels(rows: Tensor, backbone: nn.Module,
                       img_size: Tuple[int, int]) -> Tensor:
    grid = tuple(int(g) for g in backbone.patch_resolution)
    kernel, stride, padding = patch_embed_geometry(backbone, img_size)
    patches = rows[:, 1:].reshape(rows.shape[0], *grid)
    return tokens_to_pixels(patches, img_size, kernel, stride, padding)


# -------------------------------------------------------------- gradcam
def grad_cam(model: nn.Module,
             inputs: Tensor,
             data_samples: Optional[Sequence] = None,
             target: GradCamTarget = 'feature_norm') -> Tensor:
    """Grad-CAM (Selvaraju et al., ICCV 2017) on a CNN's last feature map.

    The channels of the last stage's map are weighted by the spatial mean
    of the target's gradient, summed and passed through a ReLU; the map is
    resized bilinearly to the input (a CNN map has no patch windows).

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` whose
            backbone returns a feature map (e.g. BoT's ResNet).
        inputs (Tensor): ``(B, 3, H, W)`` normalised images.
        data_samples (Sequence[ReIDDataSample], optional): Camera / view ids
            for SIE. Defaults to None.
        target (str): ``'feature_norm'`` (the L2 norm of the test feature,
            no classifier needed) or ``'id_logit'`` (the largest logit of
            the global ID classifier). Defaults to ``'feature_norm'``.

    Returns:
        Tensor: ``(B, H, W)`` non-negative maps (not normalised).
    """
    if target not in ('feature_norm', 'id_logit'):
        raise ValueError(f'target must be "feature_norm" or "id_logit", got '
                         f'{target!r}')
    with torch.enable_grad():
        feats = model.extract_backbone(inputs, data_samples)
        fmap = feats.feature_map
        if fmap is None:
            raise ValueError(
                f'Grad-CAM needs a CNN feature map, but '
                f'{type(model.backbone).__name__} gives none: use "rollout" '
                f'or "cls"')
        branches = model.branch_features(feats)
        if target == 'feature_norm':
            score = model.head.predict_feature(branches).norm(dim=1)
        else:
            _, logits = model.head(branches)
            score = logits[0].amax(dim=1)
        grads, = torch.autograd.grad(score.sum(), fmap)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * fmap.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(
        cam.float(),
        size=inputs.shape[-2:],
        mode='bilinear',
        align_corners=False)
    return cam[:, 0]


# ------------------------------------------------------------------ all
def default_methods(model: nn.Module) -> Tuple[str, ...]:
    """The methods that fit a model's backbone.

    Args:
        model (nn.Module): A re-ID model.

    Returns:
        tuple[str, ...]: ``('rollout', 'cls')`` for a ViT backbone,
        ``('gradcam', )`` otherwise.
    """
    try:
        _transformer_blocks(model)
    except ValueError:
        return CNN_METHODS
    return VIT_METHODS


def attention_maps(model: nn.Module,
                   inputs: Tensor,
                   methods: Optional[Sequence[AttentionMethod]] = None,
                   data_samples: Optional[Sequence] = None,
                   discard_ratio: float = 0.0,
                   head_fusion: Literal['mean', 'max', 'min'] = 'mean',
                   target: GradCamTarget = 'feature_norm'
                   ) -> Dict[str, np.ndarray]:
    """Attention / saliency maps of a batch, in pixel space.

    ``'rollout'``: row 0 of :func:`attention_rollout`; ``'cls'``: the
    last block's class-token attention (mean over heads); both on the
    patch tokens, mapped to pixels by :func:`tokens_to_pixels` (ViT
    backbones). ``'gradcam'``: :func:`grad_cam` (CNN backbones).

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` in eval mode.
        inputs (Tensor): ``(B, 3, H, W)`` normalised images (e.g. from
            :func:`~mmpha.apis.iter_batches`).
        methods (Sequence[str], optional): Any of ``'rollout'``, ``'cls'``,
            ``'gradcam'``. Defaults to None (:func:`default_methods`).
        data_samples (Sequence[ReIDDataSample], optional): Camera / view ids
            for SIE. Defaults to None.
        discard_ratio (float): See :func:`attention_rollout`. Defaults to 0.
        head_fusion (str): See :func:`attention_rollout`. Defaults to
            ``'mean'``.
        target (str): See :func:`grad_cam`. Defaults to
            ``'feature_norm'``.

    Returns:
        dict[str, numpy.ndarray]: Method to ``(B, H, W)`` float32 maps in
        ``[0, 1]`` (each divided by its maximum), in the order asked.
    """
    methods = tuple(methods) if methods else default_methods(model)
    bad = [m for m in methods if m not in ALL_METHODS]
    if bad:
        raise ValueError(f'unknown attention methods {bad}; expected some '
                         f'of {list(ALL_METHODS)}')
    if inputs.dim() != 4:
        raise ValueError('inputs must be (B, 3, H, W) images, got shape '
                         f'{tuple(inputs.shape)}')
    img_size = tuple(int(s) for s in inputs.shape[-2:])
    maps: Dict[str, Tensor] = {}
    attentions = None
    for method in methods:
        if method == 'gradcam':
            maps[method] = grad_cam(model, inputs, data_samples, target)
            continue
        if attentions is None:
            attentions = collect_attentions(model, inputs, data_samples)
        if method == 'rollout':
            rows = attention_rollout(attentions, discard_ratio, head_fusion)[:,
                                                                             0]
        else:
            rows = attentions[-1].float().mean(dim=1)[:, 0]
        maps[method] = _cls_row_to_pixels(rows, model.backbone, img_size)
    return {
        name: normalize_maps(value).cpu().numpy().astype(np.float32)
        for name, value in maps.items()
    }


def attention_rows(model: nn.Module,
                   images: ImageList,
                   methods: Optional[Sequence[AttentionMethod]] = None,
                   batch_size: int = 8,
                   alpha: float = 0.5,
                   **kwargs
                   ) -> Tuple[List[List[np.ndarray]], Dict[str, np.ndarray]]:
    """Attention maps of some images as overlays, ready to be drawn.

    One row per image: the image at the model's input size, then one
    overlay per method (see :func:`attention_maps`); draw them with
    :func:`~mmpha.visualization.draw_frequency_panel` and
    :func:`~mmpha.visualization.attention_titles`.

    Args:
        model (nn.Module): A re-ID model with ``cfg`` (see
            :func:`~mmpha.apis.init_model`).
        images (list[str] | list[numpy.ndarray] | BaseDataset): Images, see
            :func:`~mmpha.apis.iter_batches`.
        methods (Sequence[str], optional): See :func:`attention_maps`.
            Defaults to None (:func:`default_methods`).
        batch_size (int): Images per forward pass. Defaults to 8.
        alpha (float): Weight of the heat maps. Defaults to 0.5.
        **kwargs: More arguments of :func:`attention_maps`.

    Returns:
        tuple[list[list[numpy.ndarray]], dict[str, numpy.ndarray]]: ``M``
        rows of ``1 + len(methods)`` BGR ``uint8`` views, and the method to
        its ``(M, H, W)`` maps of the ``M`` images.
    """
    from mmpha.visualization import attention_views, tensor_to_bgr
    methods = tuple(methods) if methods else default_methods(model)
    rows, found = [], {m: [] for m in methods}
    for data in iter_batches(model, images, batch_size):
        maps = attention_maps(model, data['inputs'], methods,
                              data['data_samples'], **kwargs)
        x01 = model.data_preprocessor.to_unit_range(data['inputs'])
        for i in range(x01.shape[0]):
            rows.append(
                attention_views(
                    tensor_to_bgr(x01[i]), {m: maps[m][i]
                                            for m in methods}, alpha))
        for method in methods:
            found[method].append(maps[method])
    return rows, {m: np.concatenate(v) for m, v in found.items()}
