"""Build a model from a config, extract re-ID features, search a gallery.

Symbols used in the shapes: ``M`` number of images, ``D`` feature width,
``Q`` queries, ``G`` gallery images, ``k`` the number of neighbours returned.
"""
import copy
import os.path as osp
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import BaseDataset, Compose, pseudo_collate
from mmengine.model import BaseModel
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader
from mmengine.utils import ProgressBar
from torch import Tensor

from mmpha.evaluation.functional import FeatureDistances, chunked_topk
from mmpha.utils.init_weights import init_weights_quietly
from mmpha.utils.pretrained import strip_pretrained
from mmpha.utils.state_dict_load import load_state_dict_checked, state_dict_of
from mmpha.utils.tensor_ops import (DistMetric, check_dist_metric,
                                    check_feature_pair, check_positive_int,
                                    pairwise_distance)

ImageList = Union[Sequence[str], Sequence[np.ndarray], BaseDataset]

# Transforms that read the image file; they are skipped for in-memory arrays.
_LOADING_TRANSFORMS = ('LoadReIDImage', 'LoadImageFromFile',
                       'mmcv.LoadImageFromFile',
                       'mmpretrain.LoadImageFromFile')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = True) -> BaseModel:
    """Build a re-ID model from a config and load its weights.

    The checkpoint is read by MMEngine's checkpoint loader and therefore by
    mmpha's ``weights_only`` loader, and loaded strictly: a checkpoint whose
    keys or shapes do not match the model is an error (with the counts and
    the first keys) rather than a model with random layers. Without a
    checkpoint the model is initialised randomly by its ``init_weights``,
    with every ``Pretrained`` entry of ``init_cfg`` removed, so that no
    weight file is needed (shape, FLOPs and speed analyses, tests).

    Args:
        config (str | Path | Config): Config file path or a loaded config.
        checkpoint (str, optional): Checkpoint to load. Defaults to None.
        device (str | torch.device): Device to put the model on. Defaults to
            ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config, as
            with ``--cfg-options``. Defaults to None.
        strict (bool): Refuse a checkpoint with missing, unexpected or
            differently shaped keys. When False they are skipped with a
            warning; a checkpoint of which no key matches is refused
            always. Defaults to True.

    Returns:
        BaseModel: The model in eval mode, with the config used to build it
        as ``model.cfg``.

    Raises:
        TypeError: If ``config`` is not a path or a :class:`Config`.
        KeyError: If the config has no ``model``.
        FileNotFoundError: If ``checkpoint`` is a local path that does not
            exist.
        CheckpointMismatchError: If the checkpoint does not fit the model
            (see ``strict``).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif isinstance(config, Config):
        config = copy.deepcopy(config)
    else:
        raise TypeError('config must be a file path or a mmengine Config, '
                        f'got {type(config).__name__}')
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'the config {config.filename!r} has no "model" key')

    from mmpha.engine import fill_auto_sizes
    from mmpha.registry import MODELS
    from mmpha.utils import register_all_modules, register_checkpoint_loader
    register_all_modules(init_default_scope=False)
    # Stated here as well: the checkpoint below must go through the safe
    # loader whatever register_all_modules does.
    register_checkpoint_loader()
    init_default_scope(config.get('default_scope', 'mmpha'))

    model_cfg = copy.deepcopy(config.model)
    # num_classes='auto' and the like come from the train set, as in
    # ReIDRunner; model.cfg gets the numbers.
    fill_auto_sizes(model_cfg, config.get('train_dataloader'),
                    (config.model, ))
    if checkpoint is None:
        strip_pretrained(model_cfg)
    # The data preprocessor is a top-level key in the configs; the Runner
    # merges it into the model in the same way.
    if config.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', config.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        init_weights_quietly(model)
    else:
        if '://' not in str(checkpoint) and not osp.isfile(str(checkpoint)):
            raise FileNotFoundError(
                f'checkpoint "{checkpoint}" does not exist')
        loaded = CheckpointLoader.load_checkpoint(
            str(checkpoint), map_location='cpu')
        load_state_dict_checked(
            model,
            state_dict_of(loaded),
            strict=strict,
            source=f'the checkpoint "{checkpoint}"')
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _find_pipeline(dataset_cfg: dict) -> list:
    """The pipeline of a dataset config, looking inside dataset wrappers."""
    if 'pipeline' in dataset_cfg:
        return list(dataset_cfg['pipeline'])
    # ConcatDataset (query + gallery) and repeat-style wrappers.
    children = dataset_cfg.get('datasets')
    if children:
        return _find_pipeline(children[0])
    if 'dataset' in dataset_cfg:
        return _find_pipeline(dataset_cfg['dataset'])
    raise KeyError('found no "pipeline" in the test dataset config '
                   f'{dataset_cfg}')


def build_test_pipeline(cfg: Config, from_array: bool = False) -> Compose:
    """The test pipeline of a config, ready to process one image.

    The pipeline is taken from ``cfg.test_dataloader.dataset`` (the first
    child of a ``ConcatDataset``), falling back to ``val_dataloader``.

    Args:
        cfg (Config): A full mmpha config.
        from_array (bool): Drop the image-loading transform, so that the
            pipeline starts from ``results['img']`` (an ``HxWx3`` BGR
            ``uint8`` array). Defaults to False.

    Returns:
        Compose: The composed transforms.
    """
    from mmpha.registry import TRANSFORMS
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader is not None and loader.get('dataset') is not None:
            pipeline = _find_pipeline(loader['dataset'])
            break
    else:
        raise KeyError('the config has neither test_dataloader.dataset nor '
                       'val_dataloader.dataset to take the pipeline from')
    if from_array:
        pipeline = [
            t for t in pipeline if t.get('type') not in _LOADING_TRANSFORMS
        ]
    return Compose([TRANSFORMS.build(copy.deepcopy(t)) for t in pipeline])


def _check_cam_ids(cam_ids: Optional[Sequence[int]], num: int) -> List[int]:
    if cam_ids is None:
        return [0] * num
    cam_ids = [int(c) for c in cam_ids]
    if len(cam_ids) != num:
        raise ValueError(f'cam_ids has {len(cam_ids)} entries but {num} '
                         'images were given')
    if any(c < 0 for c in cam_ids):
        raise ValueError(f'cam_ids must be >= 0 (0-based), got {cam_ids}')
    return cam_ids


def _sample_loader(model: BaseModel, images: ImageList,
                   cam_ids: Optional[Sequence[int]]) -> Tuple[int, Callable]:
    """Number of images and a function returning the packed i-th image."""
    if isinstance(images, BaseDataset):
        if cam_ids is not None:
            raise ValueError('cam_ids cannot be given with a dataset: its '
                             'samples carry their own camera ids')
        return len(images), images.__getitem__
    if isinstance(images,
                  (str, np.ndarray)) or not isinstance(images, Sequence):
        raise TypeError('images must be a list of paths, a list of HxWx3 '
                        'uint8 arrays or a mmengine BaseDataset, got '
                        f'{type(images).__name__}')
    if len(images) == 0:
        raise ValueError('images is empty')
    if not hasattr(model, 'cfg'):
        raise AttributeError('model has no "cfg": build it with init_model, '
                             'or set model.cfg to its config')
    cams = _check_cam_ids(cam_ids, len(images))
    is_path = [isinstance(img, (str, Path)) for img in images]
    if all(is_path):
        pipeline = build_test_pipeline(model.cfg, from_array=False)
        for path in images:
            if not osp.isfile(path):
                raise FileNotFoundError(f'image "{path}" does not exist')
    elif not any(is_path):
        pipeline = build_test_pipeline(model.cfg, from_array=True)
        for i, img in enumerate(images):
            if (not isinstance(img, np.ndarray) or img.ndim != 3
                    or img.shape[2] != 3 or img.dtype != np.uint8):
                desc = (f'{img.dtype} array of shape {img.shape}'
                        if isinstance(img, np.ndarray) else type(img).__name__)
                raise TypeError(f'images[{i}] must be an HxWx3 uint8 BGR '
                                f'array, got {desc}')
    else:
        raise TypeError('images must be all paths or all arrays, not a mix')

    def load(i: int) -> dict:
        # The label is a placeholder: features do not depend on it.
        results = dict(gt_label=0, cam_id=cams[i], view_id=0, is_query=False)
        if is_path[i]:
            results['img_path'] = str(images[i])
        else:
            img = images[i]
            results.update(
                img=img,
                img_path='',
                img_shape=img.shape[:2],
                ori_shape=img.shape[:2])
        return pipeline(results)

    return len(images), load


def iter_batches(model: BaseModel,
                 images: ImageList,
                 batch_size: int = 32,
                 cam_ids: Optional[Sequence[int]] = None,
                 indices: Optional[Sequence[int]] = None,
                 progress: bool = False) -> Iterator[dict]:
    """Preprocessed batches of images, ready for the model.

    Paths and arrays go through the test pipeline of ``model.cfg``; a
    dataset is used as it is (it must return packed samples, i.e. use a test
    pipeline). Each batch then goes through the model's data preprocessor.

    Args:
        model (BaseModel): A re-ID model with ``cfg`` (see
            :func:`init_model`) and a data preprocessor.
        images (list[str] | list[numpy.ndarray] | BaseDataset): Image paths,
            ``HxWx3`` ``uint8`` arrays in BGR order (as OpenCV reads them),
            or a dataset with a test pipeline.
        batch_size (int): Images per batch. Defaults to 32.
        cam_ids (Sequence[int], optional): 0-based camera id of each path or
            array (models with camera SIE need it). Defaults to None (camera
            0 for every image).
        indices (Sequence[int], optional): Only these images, in this
            order. Defaults to None (all).
        progress (bool): Show a progress bar. Defaults to False.

    Yields:
        dict: ``inputs`` ``(b, 3, H, W)`` normalised float tensor on the
        model's device and ``data_samples`` (list of ``b`` samples).
    """
    check_positive_int(batch_size, 'batch_size')
    num, load = _sample_loader(model, images, cam_ids)
    order = list(range(num)) if indices is None else [int(i) for i in indices]
    bad = [i for i in order if not 0 <= i < num]
    if bad:
        raise ValueError(f'indices {bad} are out of range for {num} images')
    # sys.stdout is looked up now, not when mmengine was imported, so that
    # redirected output (logs, tests) receives the bar.
    bar = ProgressBar(len(order), file=sys.stdout) if progress else None
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = pseudo_collate([load(i) for i in chunk])
        yield model.data_preprocessor(batch, False)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.file.write('\n')


@torch.no_grad()
def extract_features(model: BaseModel,
                     images: ImageList,
                     batch_size: int = 32,
                     flip: bool = False,
                     cam_ids: Optional[Sequence[int]] = None,
                     progress: bool = True) -> Tensor:
    """Compute the inference features of a list of images or a dataset.

    Batches come from :func:`iter_batches` and go through the model's
    ``predict`` mode, so the features are exactly those of
    ``tools/test.py``.

    Args:
        model (BaseModel): A re-ID model, e.g. from :func:`init_model`.
        images (list[str] | list[numpy.ndarray] | BaseDataset): Image paths,
            ``HxWx3`` ``uint8`` arrays in BGR order (as OpenCV reads them),
            or a dataset with a test pipeline.
        batch_size (int): Images per forward pass. Defaults to 32.
        flip (bool): Also average the features of each image and of its
            horizontal mirror, on top of the model's own ``flip_test``
            setting. Defaults to False.
        cam_ids (Sequence[int], optional): 0-based camera id of each path or
            array, used by models with camera SIE. Defaults to None (camera
            0 for every image).
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        Tensor: Features of shape ``(M, D)`` on the CPU, in input order.
    """
    feats = []
    for data in iter_batches(
            model, images, batch_size, cam_ids=cam_ids, progress=progress):
        inputs, samples = data['inputs'], data['data_samples']
        out = torch.stack([
            s.pred_feature
            for s in model(inputs, copy.deepcopy(samples), mode='predict')
        ])
        if flip:
            mirrored = model(inputs.flip(-1), samples, mode='predict')
            out = (out + torch.stack([s.pred_feature for s in mirrored])) / 2
        feats.append(out.float().cpu())
    return torch.cat(feats)


def search(query_feats: Tensor,
           gallery_feats: Tensor,
           topk: int = 10,
           metric: DistMetric = 'euclidean',
           normalize: bool = True,
           exclude: Optional[Tensor] = None,
           chunk_size: int = 1024,
           gallery_chunk_size: Optional[int] = None,
           chunk_gallery_above: int = 200_000) -> Tuple[Tensor, Tensor]:
    """The ``k`` nearest gallery images of every query.

    A gallery of more than ``chunk_gallery_above`` images (or any gallery
    when ``gallery_chunk_size`` is given) is searched by gallery chunks
    with a running top-k
    (:func:`~mmpha.evaluation.functional.chunked_topk`): memory stays
    bounded, the gallery may be float16 and is normalised chunk by chunk,
    and equal distances are ordered by gallery index. Otherwise equal
    distances come in :func:`torch.topk`'s (unspecified) order.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        topk (int): Neighbours per query; ``k = min(topk, G)``. Defaults to
            10.
        metric (str): ``'euclidean'`` or ``'cosine'`` (``1 - cos``).
            Defaults to ``'euclidean'``.
        normalize (bool): L2-normalise the features first (the evaluation
            default). Defaults to True.
        exclude (Tensor, optional): Bool ``(Q, G)`` mask of pairs that must
            not be returned (e.g. same identity and same camera, as in the
            Market-1501 protocol); they are ranked last, with distance
            ``inf``. Defaults to None.
        chunk_size (int): Queries per chunk, to bound memory. Defaults to
            1024.
        gallery_chunk_size (int, optional): Gallery images per chunk; None
            chunks the gallery only above ``chunk_gallery_above`` images,
            with 2**24 distances per block. Defaults to None.
        chunk_gallery_above (int): Gallery size above which the gallery is
            chunked. Defaults to 200000.

    Returns:
        tuple[Tensor, Tensor]: ``dists`` ``(Q, k)`` in ascending order and
        ``indices`` ``(Q, k)`` (long) into the gallery.
    """
    topk = check_positive_int(topk, 'topk')
    chunk_size = check_positive_int(chunk_size, 'chunk_size')
    check_dist_metric(metric)
    check_feature_pair(query_feats, gallery_feats,
                       ('query_feats', 'gallery_feats'))
    if exclude is not None and tuple(
            exclude.shape) != (query_feats.shape[0], gallery_feats.shape[0]):
        raise ValueError(
            f'exclude must have shape (Q, G) = '
            f'{(query_feats.shape[0], gallery_feats.shape[0])}, got '
            f'{tuple(exclude.shape)}')
    if gallery_chunk_size is not None or (gallery_feats.shape[0]
                                          > chunk_gallery_above):
        return chunked_topk(
            FeatureDistances(query_feats, gallery_feats, metric, normalize),
            topk,
            query_chunk=chunk_size,
            gallery_chunk=gallery_chunk_size,
            exclude=exclude)
    query_feats, gallery_feats = query_feats.float(), gallery_feats.float()
    # Normalised once, not once per chunk.
    if normalize or metric == 'cosine':
        query_feats = F.normalize(query_feats, dim=1)
        gallery_feats = F.normalize(gallery_feats, dim=1)
    k = min(topk, gallery_feats.shape[0])
    dists, indices = [], []
    for start in range(0, query_feats.shape[0], chunk_size):
        stop = start + chunk_size
        dist = pairwise_distance(
            query_feats[start:stop], gallery_feats, metric, normalized=True)
        if exclude is not None:
            dist = dist.masked_fill(exclude[start:stop].to(dist.device),
                                    float('inf'))
        d, i = dist.topk(k, dim=1, largest=False, sorted=True)
        dists.append(d)
        indices.append(i)
    if not dists:
        return torch.zeros(0, k), torch.zeros(0, k, dtype=torch.long)
    return torch.cat(dists), torch.cat(indices)
