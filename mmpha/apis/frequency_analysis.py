"""The paper's per-layer frequency similarity (Sec. 3.1) of a trained model.

Symbols: ``B`` batch size, ``H x W`` input size, ``L`` transformer layers,
``N`` patch tokens, ``K`` tokens of the high-frequency (HF) group, ``C``
token width.
"""
import copy
import csv
import inspect
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.utils import mkdir_or_exist
from torch import Tensor, nn

from .inference import ImageList, init_model, iter_batches


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
    cam_ids, view_ids = model.side_info(data_samples, inputs.device,
                                        inputs.shape[0])
    tokens = model.backbone.embed(inputs, cam_ids, view_ids)
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
        num_images (int): As for :func:`compare_frequency_similarity`, like
            the arguments below. Defaults to 64.
        batch_size (int): Defaults to 16.
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides of the config. Defaults to
            None.
        neck_options (dict, optional): Defaults to None.
        progress (bool): Defaults to True.

    Returns:
        dict[str, Tensor]: Checkpoint label to its ``(L, )`` curve (mean
        similarity per layer), in checkpoint order.
    """
    if not checkpoints:
        raise ValueError('checkpoints is empty: give at least one')
    return compare_frequency_similarity([(config, c) for c in checkpoints],
                                        labels, num_images, batch_size, device,
                                        cfg_options, neck_options, progress)


def compare_frequency_similarity(runs: Sequence[Tuple[Union[str, Config],
                                                      Optional[str]]],
                                 labels: Optional[Sequence[str]] = None,
                                 num_images: int = 64,
                                 batch_size: int = 16,
                                 device: str = 'cpu',
                                 cfg_options: Optional[dict] = None,
                                 neck_options: Optional[dict] = None,
                                 progress: bool = True) -> Dict[str, Tensor]:
    """Per-layer HF/LF similarity of several (config, checkpoint) models.

    The paper's comparison (Fig. 1, TransReID vs PHA) with each model built
    from its own config. The query images (with the test pipeline) and the
    frequency module that forms the HF / LF groups are those of the first
    run, so every curve is measured on the same images and patch groups;
    the models must therefore take the same input size and have the same
    depth.

    Args:
        runs (Sequence[tuple[str | Config, str | None]]): ``(config,
            checkpoint)`` pairs; None for a random initialisation.
        labels (Sequence[str], optional): Curve names, one per run.
            Defaults to None (the checkpoint file names).
        num_images (int): Query images used. Defaults to 64.
        batch_size (int): Images per forward pass. Defaults to 16.
        device (str): Device. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides of every config. Defaults to
            None.
        neck_options (dict, optional): ``PHANeck`` arguments that replace
            the defaults (e.g. ``keep_ratio``). Defaults to None.
        progress (bool): Show progress bars. Defaults to True.

    Returns:
        dict[str, Tensor]: Label to the ``(L, )`` mean similarity per layer,
        in run order.
    """
    if not runs:
        raise ValueError('runs is empty: give at least one (config, '
                         'checkpoint) pair')
    checkpoints = [checkpoint for _, checkpoint in runs]
    labels = list(labels) if labels is not None else default_labels(
        checkpoints)
    if len(labels) != len(runs):
        raise ValueError(f'{len(labels)} labels for {len(runs)} '
                         f'checkpoints: {labels}')
    if len(set(labels)) != len(labels):
        raise ValueError(f'labels must be distinct, got {labels}')
    dataset = neck = None
    curves: Dict[str, Tensor] = {}
    for label, (config, checkpoint) in zip(labels, runs):
        model = init_model(config, checkpoint, device, cfg_options)
        if dataset is None:
            dataset = build_query_dataset(model.cfg)
            neck = build_frequency_neck(model, **(neck_options or {}))
        depth = len(model.backbone.blocks)
        first = next(iter(curves.values()), None)
        if first is not None and depth != len(first):
            raise ValueError(
                f'{label!r} has {depth} transformer layers but '
                f'{next(iter(curves))!r} has {len(first)}: the curves of '
                'one plot need models of the same depth')
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


def write_curves_long_csv(curves: Dict[str, Sequence[float]],
                          out_file: str) -> None:
    """Write per-layer values as CSV in long form: ``layer, model, value``.

    Args:
        curves (dict[str, Sequence[float]]): Label to its per-layer values.
        out_file (str): Output ``.csv`` path.
    """
    if not curves:
        raise ValueError('curves is empty: nothing to write')
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['layer', 'model', 'value'])
        for label, values in curves.items():
            for layer, value in enumerate(values, 1):
                writer.writerow([layer, label, f'{float(value):.6f}'])


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
