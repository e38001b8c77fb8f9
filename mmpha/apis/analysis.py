"""Analyses of a trained model: the paper's per-layer frequency similarity
(Sec. 3.1), model complexity and inference throughput.

Symbols: ``B`` batch size, ``H x W`` input size, ``L`` transformer layers,
``N`` patch tokens, ``K`` tokens of the high-frequency (HF) group, ``C``
token width.
"""
import copy
import csv
import inspect
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.utils import mkdir_or_exist
from torch import Tensor, nn

from .deployment import InferenceWrapper
from .inference import ImageList, init_model, iter_batches


# --------------------------------------------------------------- frequency
def build_frequency_neck(model: nn.Module, **overrides) -> nn.Module:
    """The PHA frequency module that splits patches into HF and LF groups.

    A PHA model's own neck is copied (so its ratios and wavelet are used);
    any other model gets a :class:`~mmpha.models.necks.PHANeck` with the
    paper's defaults. The patch geometry is that of the model's backbone.

    Args:
        model (nn.Module): A re-ID model with a ``backbone`` exposing
            ``patch_size`` and ``stride``.
        **overrides: :class:`~mmpha.models.necks.PHANeck` arguments that
            replace the model's (e.g. ``keep_ratio=0.3``).

    Returns:
        nn.Module: A ``PHANeck`` in eval mode.
    """
    from mmpha.models.necks import PHANeck
    neck = getattr(model, 'neck', None)
    args = {}
    if isinstance(neck, PHANeck):
        # The neck keeps each constructor argument under its own name.
        names = set(inspect.signature(PHANeck.__init__).parameters) - {
            'self', 'patch_size', 'stride', 'init_cfg'
        }
        args = {
            name: getattr(neck, name)
            for name in names if hasattr(neck, name)
        }
    args.update(overrides)
    neck = PHANeck(**args)
    backbone = model.backbone
    neck.set_patch_embed(tuple(backbone.patch_size), tuple(backbone.stride))
    return neck.eval()


@torch.no_grad()
def layer_tokens(model: nn.Module,
                 inputs: Tensor,
                 data_samples: Optional[Sequence] = None) -> List[Tensor]:
    """The token sequence after each transformer block of the backbone.

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel`.
        inputs (Tensor): ``(B, 3, H, W)`` normalised images.
        data_samples (Sequence[ReIDDataSample], optional): Camera / view ids
            for SIE. Defaults to None.

    Returns:
        list[Tensor]: ``L`` tensors of shape ``(B, 1 + N, C)``, the output of
        blocks ``1..L`` (before the final LayerNorm).
    """
    tokens = model.embed_tokens(inputs, data_samples)
    outputs = []
    for block in model.backbone.blocks:
        tokens = block(tokens)
        outputs.append(tokens)
    return outputs


def group_means(tokens: Tensor, hf_idx: Tensor) -> Tuple[Tensor, Tensor]:
    """Mean patch feature of the HF group and of the remaining (LF) group.

    Args:
        tokens (Tensor): ``(B, 1 + N, C)`` tokens, class token first.
        hf_idx (Tensor): ``(B, K)`` indices of the HF patches into the ``N``
            patch tokens, ``0 < K < N``.

    Returns:
        tuple[Tensor, Tensor]: ``(B, C)`` HF-group mean and LF-group mean.
    """
    patches = tokens[:, 1:]
    batch, num = patches.shape[:2]
    if not 0 < hf_idx.shape[1] < num:
        raise ValueError(f'the HF group must hold between 1 and N-1={num - 1}'
                         f' patches, got {hf_idx.shape[1]}')
    is_hf = torch.zeros(batch, num, dtype=patches.dtype, device=patches.device)
    is_hf.scatter_(1, hf_idx.long(), 1.0)
    hf = (patches * is_hf[..., None]).sum(1) / is_hf.sum(1, keepdim=True)
    is_lf = 1.0 - is_hf
    lf = (patches * is_lf[..., None]).sum(1) / is_lf.sum(1, keepdim=True)
    return hf, lf


@torch.no_grad()
def hf_lf_similarity(model: nn.Module,
                     inputs: Tensor,
                     data_samples: Optional[Sequence] = None,
                     neck: Optional[nn.Module] = None) -> Tensor:
    """Per-layer cosine similarity of the HF and LF patch groups (Sec. 3.1).

    The patches of each image are split by the PHA frequency module: the
    ``keep_ratio`` patches with the most high-frequency energy form the HF
    group, the others the LF group. After every block the mean feature of
    each group is taken and their cosine similarity computed. The paper
    observes that this similarity rises with depth in a plain ViT (HF detail
    is absorbed by the LF majority) and that PHA keeps it lower.

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` in eval mode.
        inputs (Tensor): ``(B, 3, H, W)`` normalised images.
        data_samples (Sequence[ReIDDataSample], optional): Camera / view ids
            for SIE. Defaults to None.
        neck (nn.Module, optional): The frequency module. Defaults to None
            (:func:`build_frequency_neck`).

    Returns:
        Tensor: ``(B, L)`` similarities.
    """
    neck = neck if neck is not None else build_frequency_neck(model)
    x01 = model.data_preprocessor.to_unit_range(inputs)
    hf_idx = neck.to(inputs.device).analyse(x01)['keep_idx']
    sims = []
    for tokens in layer_tokens(model, inputs, data_samples):
        hf, lf = group_means(tokens.float(), hf_idx)
        sims.append(F.cosine_similarity(hf, lf, dim=1))
    return torch.stack(sims, dim=1)


def evenly_spaced(total: int, num: int) -> List[int]:
    """``min(num, total)`` indices spread evenly over ``range(total)``.

    Args:
        total (int): Size of the range.
        num (int): Number of indices wanted.

    Returns:
        list[int]: Sorted distinct indices.
    """
    if total < 1:
        raise ValueError('the dataset is empty')
    if num < 1:
        raise ValueError(f'num must be >= 1, got {num}')
    num = min(num, total)
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, num)})


@torch.no_grad()
def dataset_hf_lf_similarity(model: nn.Module,
                             images: ImageList,
                             num_images: Optional[int] = 64,
                             batch_size: int = 16,
                             neck: Optional[nn.Module] = None,
                             progress: bool = True) -> Tensor:
    """:func:`hf_lf_similarity` over a set of images.

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` in eval mode,
            with ``cfg`` (see :func:`~mmpha.apis.init_model`).
        images (list[str] | list[numpy.ndarray] | BaseDataset): Images, see
            :func:`~mmpha.apis.iter_batches` (e.g. the query split).
        num_images (int, optional): Images used, evenly spaced over
            ``images``; None uses all. Defaults to 64.
        batch_size (int): Images per forward pass. Defaults to 16.
        neck (nn.Module, optional): The frequency module. Defaults to None
            (:func:`build_frequency_neck`).
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        Tensor: ``(M, L)`` similarities of the ``M`` images used.
    """
    neck = neck if neck is not None else build_frequency_neck(model)
    indices = None if num_images is None else evenly_spaced(
        len(images), num_images)
    sims = [
        hf_lf_similarity(model, data['inputs'], data['data_samples'],
                         neck).cpu()
        for data in iter_batches(
            model, images, batch_size, indices=indices, progress=progress)
    ]
    return torch.cat(sims)


def frequency_similarity_curves(config: Union[str, Config],
                                checkpoints: Sequence[Optional[str]],
                                labels: Optional[Sequence[str]] = None,
                                num_images: int = 64,
                                batch_size: int = 16,
                                device: str = 'cpu',
                                cfg_options: Optional[dict] = None,
                                neck_options: Optional[dict] = None,
                                progress: bool = True) -> Dict[str, Tensor]:
    """Per-layer HF/LF similarity of several checkpoints of one config.

    Every checkpoint is loaded into the same config (a PHA checkpoint loads
    into its TransReID config and vice versa: the inference networks are
    identical), the same images of the query split are used, and the HF /
    LF grouping comes from one frequency module (the config's PHA neck, or
    the paper's defaults), so the curves differ only by the weights.

    Args:
        config (str | Config): The config.
        checkpoints (Sequence[str | None]): Checkpoint files; None for the
            random initialisation.
        labels (Sequence[str], optional): Curve names, one per checkpoint.
            Defaults to None (the file names).
        num_images (int): Query images used. Defaults to 64.
        batch_size (int): Images per forward pass. Defaults to 16.
        device (str): Device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Config overrides. Defaults to None.
        neck_options (dict, optional): ``PHANeck`` arguments that replace
            the defaults (e.g. ``keep_ratio``). Defaults to None.
        progress (bool): Show progress bars. Defaults to True.

    Returns:
        dict[str, Tensor]: Label to the ``(L, )`` mean similarity per layer,
        in checkpoint order.
    """
    if not checkpoints:
        raise ValueError('checkpoints is empty: give at least one')
    labels = list(labels) if labels is not None else default_labels(
        checkpoints)
    if len(labels) != len(checkpoints):
        raise ValueError(f'{len(labels)} labels for {len(checkpoints)} '
                         f'checkpoints: {labels}')
    if len(set(labels)) != len(labels):
        raise ValueError(f'labels must be distinct, got {labels}')
    dataset = neck = None
    curves: Dict[str, Tensor] = {}
    for label, checkpoint in zip(labels, checkpoints):
        model = init_model(config, checkpoint, device, cfg_options)
        if dataset is None:
            dataset = build_query_dataset(model.cfg)
            neck = build_frequency_neck(model, **(neck_options or {}))
        sims = dataset_hf_lf_similarity(model, dataset, num_images, batch_size,
                                        neck, progress)
        curves[label] = sims.mean(dim=0)
    return curves


def default_labels(checkpoints: Sequence[Optional[str]]) -> List[str]:
    """Curve labels from checkpoint paths: the file names, made distinct.

    Args:
        checkpoints (Sequence[str | None]): Checkpoint paths (None for a
            random initialisation).

    Returns:
        list[str]: One label per checkpoint; when file names repeat, the
        parent folder is prefixed (e.g. ``pha/epoch_120``).
    """

    def name(path: Optional[str], parents: int) -> str:
        if path is None:
            return 'random init'
        parts = osp.normpath(osp.splitext(path)[0]).split(os.sep)
        return '/'.join(parts[-1 - parents:])

    labels = [name(c, 0) for c in checkpoints]
    if len(set(labels)) < len(labels):
        labels = [name(c, 1) for c in checkpoints]
    if len(set(labels)) < len(labels):
        labels = [f'{i}: {label}' for i, label in enumerate(labels)]
    return labels


def write_curves_csv(curves: Dict[str, Sequence[float]],
                     out_file: str) -> None:
    """Write per-layer values as CSV: one row per layer, a column per curve.

    Args:
        curves (dict[str, Sequence[float]]): Label to ``L`` values.
        out_file (str): Output ``.csv`` path.
    """
    lengths = {len(v) for v in curves.values()}
    if not curves or len(lengths) != 1:
        raise ValueError('curves must be a non-empty dict of equal-length '
                         f'sequences, got lengths {sorted(lengths)}')
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['layer', *curves])
        values = [[float(v) for v in c] for c in curves.values()]
        for layer in range(lengths.pop()):
            writer.writerow(
                [layer + 1, *(f'{col[layer]:.6f}' for col in values)])


@torch.no_grad()
def frequency_panel(model: nn.Module,
                    images: ImageList,
                    indices: Optional[Sequence[int]] = None,
                    neck: Optional[nn.Module] = None,
                    with_diff: bool = False) -> np.ndarray:
    """The frequency analysis of some images drawn as one panel.

    One row per image: the image at the model's input size, its HF energy
    map, the selected HF patches and ``x_hf`` (the low-frequency-dropped
    image), optionally ``|x_hf - x|``; see
    :func:`~mmpha.visualization.draw_frequency_panel`.

    Args:
        model (nn.Module): A re-ID model with ``cfg``, a data preprocessor
            and a backbone (weights are not used).
        images (list[str] | list[numpy.ndarray] | BaseDataset): Images, see
            :func:`~mmpha.apis.iter_batches`.
        indices (Sequence[int], optional): Images to draw. Defaults to None
            (all).
        neck (nn.Module, optional): The frequency module. Defaults to None
            (:func:`build_frequency_neck`).
        with_diff (bool): Add the amplified difference column. Defaults to
            False.

    Returns:
        numpy.ndarray: The panel, a BGR ``uint8`` image.
    """
    from mmpha.visualization import (DIFF_TITLE, PANEL_TITLES,
                                     draw_frequency_panel, frequency_views)
    neck = neck if neck is not None else build_frequency_neck(model)
    backbone = model.backbone
    grid = tuple(backbone.patch_resolution)
    rows = []
    for data in iter_batches(model, images, indices=indices):
        x01 = model.data_preprocessor.to_unit_range(data['inputs'])
        out = neck.to(x01.device).analyse(x01)
        for i in range(x01.shape[0]):
            rows.append(
                frequency_views(x01[i], out['energy'][i], out['keep_idx'][i],
                                out['x_hf01'][i], grid,
                                tuple(backbone.patch_size),
                                tuple(backbone.stride), with_diff))
    titles = list(PANEL_TITLES) + ([DIFF_TITLE] if with_diff else [])
    return draw_frequency_panel(rows, titles)


def build_query_dataset(cfg) -> BaseDataset:
    """The query split of a config's test set, with the test pipeline.

    Args:
        cfg (Config): A full mmpha config whose ``test_dataloader.dataset``
            is a ``ConcatDataset`` of query and gallery (the query first), or
            a single dataset.

    Returns:
        BaseDataset: The built dataset.
    """
    from mmpha.registry import DATASETS
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    if dataset_cfg.get('type') == 'ConcatDataset':
        dataset_cfg = dataset_cfg['datasets'][0]
    return DATASETS.build(dataset_cfg)


# -------------------------------------------------------------- complexity
def inference_parameters(model: nn.Module,
                         input_shape: Tuple[int, int],
                         batch_size: int = 1) -> int:
    """Number of parameters that the inference feature depends on.

    Found with autograd: a parameter counts when the features have a
    gradient with respect to it. Training-only modules (classifiers, PHA's
    branches) therefore count for nothing.

    Args:
        model (nn.Module): A re-ID model.
        input_shape (tuple[int, int]): ``(H, W)``.
        batch_size (int): Batch size of the probe. Defaults to 1.

    Returns:
        int: The number of scalar parameters used at inference.
    """
    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    params = [p for p in model.parameters()]
    saved = [p.requires_grad for p in params]
    device = params[0].device if params else torch.device('cpu')
    try:
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            out = wrapper(
                torch.randn(batch_size, 3, *input_shape, device=device))
            grads = torch.autograd.grad(out.sum(), params, allow_unused=True)
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)
    return int(sum(p.numel() for p, g in zip(params, grads) if g is not None))


def _sdpa_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    # Q K^T and the attention-weighted sum of V: two batched products.
    batch, heads, len_q, dim = query_shape
    len_k, dim_v = key_shape[-2], value_shape[-1]
    return 2 * batch * heads * len_q * len_k * (dim + dim_v)


def _extra_flop_formulas() -> dict:
    # torch's counter knows the CUDA attention kernels but not the CPU one
    # that scaled_dot_product_attention dispatches to on the CPU.
    aten = torch.ops.aten
    name = '_scaled_dot_product_flash_attention_for_cpu'
    return {getattr(aten, name): _sdpa_flops} if hasattr(aten, name) else {}


def get_complexity(model: nn.Module,
                   input_shape: Tuple[int, int],
                   show_table: bool = False) -> Dict[str, Union[int, str]]:
    """FLOPs and parameters of the inference model for one image.

    FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode`
    on the model's inference path
    (:class:`~mmpha.apis.deployment.InferenceWrapper` without
    preprocessing). It counts matrix products and convolutions (a
    multiply-add is 2 FLOPs; ``macs`` is half of it, the number OpenMMLab
    tools usually call "Flops"); normalisation, softmax and activations are
    left out, as in MMEngine's and fvcore's counters. Counting at the
    operator level, not by tracing, it sees exactly what runs.

    Args:
        model (nn.Module): A re-ID model in eval mode.
        input_shape (tuple[int, int]): ``(H, W)``.
        show_table (bool): Also return the per-module table. Defaults to
            False.

    Returns:
        dict: ``flops`` and ``macs`` (int), ``inference_params`` (int, see
        :func:`inference_parameters`), ``total_params`` (int, every
        parameter of the model including training-only ones), their
        ``*_str`` forms, and ``table`` (str) with ``show_table``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    device = next(model.parameters()).device
    counter = FlopCounterMode(
        display=False, depth=4, custom_mapping=_extra_flop_formulas())
    with torch.no_grad(), counter:
        wrapper(torch.randn(1, 3, *input_shape, device=device))
    flops = int(counter.get_total_flops())
    used = inference_parameters(model, input_shape)
    total = sum(p.numel() for p in model.parameters())
    result = dict(
        flops=flops,
        flops_str=human_size(flops),
        macs=flops // 2,
        macs_str=human_size(flops // 2),
        inference_params=used,
        inference_params_str=human_size(used),
        total_params=total,
        total_params_str=human_size(total))
    if show_table:
        result['table'] = counter.get_table(depth=4)
    return result


def human_size(value: int) -> str:
    """A count with a K / M / G / T suffix and 3 significant digits.

    Args:
        value (int): The count.

    Returns:
        str: e.g. ``'21.6M'``.
    """
    for suffix, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.3g}{suffix}'
    return str(int(value))


# --------------------------------------------------------------- benchmark
@torch.no_grad()
def benchmark_inference(model: nn.Module,
                        input_shape: Tuple[int, int],
                        batch_size: int = 32,
                        iters: int = 20,
                        warmup: int = 3) -> Dict[str, float]:
    """Inference throughput of the model on random input.

    Measures the model alone (no data loading) on the device it lives on,
    synchronising CUDA before reading the clock.

    Args:
        model (nn.Module): A re-ID model in eval mode.
        input_shape (tuple[int, int]): ``(H, W)``.
        batch_size (int): Images per forward pass. Defaults to 32.
        iters (int): Timed forward passes. Defaults to 20.
        warmup (int): Untimed passes first. Defaults to 3.

    Returns:
        dict[str, float]: ``images_per_s``, ``ms_per_batch`` (median over
        the timed passes) and ``batch_size``.
    """
    for name, value in (('batch_size', batch_size), ('iters', iters)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    if warmup < 0:
        raise ValueError(f'warmup must be >= 0, got {warmup}')
    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    device = next(model.parameters()).device
    x = torch.randn(batch_size, 3, *input_shape, device=device)

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        wrapper(x)
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        wrapper(x)
        sync()
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return dict(
        images_per_s=batch_size / median,
        ms_per_batch=median * 1000,
        batch_size=float(batch_size))
