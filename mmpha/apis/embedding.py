"""2-D maps of re-ID features: t-SNE, UMAP or PCA of query and gallery.

Symbols: ``M = Q + G`` images (query first), ``D`` feature width.
"""
import copy
import csv
import os.path as osp
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist
from torch import nn

EmbedMethod = Literal['auto', 'tsne', 'umap', 'pca']
EMBED_METHODS = ('auto', 'tsne', 'umap', 'pca')
CSV_COLUMNS = ('x', 'y', 'id', 'camera', 'split', 'path')


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


@torch.no_grad()
def dump_test_features(model: nn.Module, batch_size: int = 32) -> dict:
    """Query and gallery features of a config's test set.

    The model runs in ``predict`` mode on ``model.cfg.test_dataloader``'s
    dataset (query and gallery), so the features are those of
    ``tools/test.py``; the result has the layout of its ``--out`` dump.

    Args:
        model (nn.Module): A re-ID model with ``cfg`` (see
            :func:`~mmpha.apis.init_model`).
        batch_size (int): Images per forward pass. Defaults to 32.

    Returns:
        dict: ``query_feats`` ``(Q, D)``, ``gallery_feats`` ``(G, D)``,
        ``q_pids`` / ``g_pids``, ``q_camids`` / ``g_camids`` (long) and
        ``q_img_paths`` / ``g_img_paths`` (lists of str).
    """
    from mmpha.registry import DATASETS
    from .inference import iter_batches
    dataset_cfg = model.cfg.test_dataloader.dataset
    # A ConcatDataset (query + gallery) is no BaseDataset: its parts are
    # read one by one.
    parts = (
        dataset_cfg['datasets']
        if dataset_cfg.get('type') == 'ConcatDataset' else [dataset_cfg])
    rows = []
    for part_cfg in parts:
        dataset = DATASETS.build(copy.deepcopy(part_cfg))
        for data in iter_batches(model, dataset, batch_size):
            for sample in model(data['inputs'], data['data_samples'],
                                'predict'):
                rows.append((sample.pred_feature.float().cpu(),
                             int(sample.gt_label), int(sample.cam_id),
                             bool(sample.is_query), sample.get('img_path',
                                                               '')))
    dump = {}
    for prefix, name, is_query in (('q', 'query_feats', True),
                                   ('g', 'gallery_feats', False)):
        part = [r for r in rows if r[3] == is_query]
        if not part:
            raise ValueError(f'the test set of {model.cfg.filename} has no '
                             f'{"query" if is_query else "gallery"} images')
        dump[name] = torch.stack([r[0] for r in part])
        dump[f'{prefix}_pids'] = torch.tensor([r[1] for r in part])
        dump[f'{prefix}_camids'] = torch.tensor([r[2] for r in part])
        dump[f'{prefix}_img_paths'] = [r[4] for r in part]
    return dump


def pca_2d(feats: np.ndarray) -> np.ndarray:
    """The first two principal components of centred features.

    Each component's sign is fixed so that its largest-magnitude
    coordinate is positive, which makes the result deterministic.

    Args:
        feats (numpy.ndarray): ``(M, D)`` features, ``M >= 2``.

    Returns:
        numpy.ndarray: ``(M, 2)`` coordinates (one column of zeros when
        ``D == 1``).
    """
    centred = feats - feats.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:
        coords = np.concatenate([coords, np.zeros_like(coords)], axis=1)
    peak = coords[np.abs(coords).argmax(axis=0), [0, 1]]
    return coords * np.where(peak < 0, -1.0, 1.0)


def embed_2d(feats: torch.Tensor,
             method: EmbedMethod = 'auto',
             normalize: bool = True,
             seed: int = 0,
             perplexity: float = 30.0) -> Tuple[np.ndarray, str]:
    """Project features to 2-D.

    ``'tsne'`` uses scikit-learn's t-SNE and ``'umap'`` the umap-learn
    package, both optional; ``'pca'`` needs neither. ``'auto'`` takes the
    first that is installed in that order and logs a warning when it falls
    back to PCA.

    Args:
        feats (torch.Tensor): ``(M, D)`` features.
        method (str): ``'auto'``, ``'tsne'``, ``'umap'`` or ``'pca'``.
            Defaults to ``'auto'``.
        normalize (bool): L2-normalise the features first, as the
            evaluation does. Defaults to True.
        seed (int): Random state of t-SNE / UMAP. Defaults to 0.
        perplexity (float): t-SNE perplexity, capped at ``M - 1``.
            Defaults to 30.

    Returns:
        tuple[numpy.ndarray, str]: ``(M, 2)`` coordinates and the method
        used.

    Raises:
        ImportError: If ``'tsne'`` or ``'umap'`` is asked but its package is
            not installed.
    """
    if method not in EMBED_METHODS:
        raise ValueError(f'method must be one of {list(EMBED_METHODS)}, got '
                         f'{method!r}')
    if feats.dim() != 2 or feats.shape[0] < 2:
        raise ValueError('feats must be (M, D) with M >= 2, got shape '
                         f'{tuple(feats.shape)}')
    if normalize:
        feats = F.normalize(feats.float(), dim=1)
    data = feats.double().cpu().numpy()
    if method == 'auto':
        method = ('tsne'
                  if _has('sklearn') else 'umap' if _has('umap') else 'pca')
        if method == 'pca':
            print_log(
                'neither scikit-learn (t-SNE) nor umap-learn is installed: '
                'the embedding is a PCA projection', 'current', 30)
    if method == 'tsne':
        if not _has('sklearn'):
            raise ImportError('t-SNE needs scikit-learn: pip install '
                              'scikit-learn, or use --method pca')
        from sklearn.manifold import TSNE
        tsne = TSNE(
            n_components=2,
            perplexity=min(perplexity, data.shape[0] - 1),
            init='pca',
            random_state=seed)
        return tsne.fit_transform(data), method
    if method == 'umap':
        if not _has('umap'):
            raise ImportError('UMAP needs umap-learn: pip install '
                              'umap-learn, or use --method pca')
        import umap
        return umap.UMAP(random_state=seed).fit_transform(data), method
    return pca_2d(data), method


def embedding_table(
    dump: dict,
    max_ids: Optional[int] = None,
    exclude_ids: Sequence[int] = ()
) -> Dict[str, object]:
    """Query and gallery of a feature dump as one table.

    Args:
        dump (dict): The layout of ``tools/test.py --out`` (see
            :func:`~mmpha.apis.load_dump`).
        max_ids (int, optional): Keep the images of the first ``max_ids``
            identities (sorted) only. Defaults to None (all).
        exclude_ids (Sequence[int]): Identities left out before
            ``max_ids`` applies, e.g. ``(-1, 0)`` for the junk and
            distractor images of Market-1501-style galleries. Defaults to
            ``()``.

    Returns:
        dict: ``feats`` ``(M, D)``, ``ids`` / ``cams`` ``(M, )`` int
        arrays, ``splits`` and ``paths`` (lists of str), query first.
    """
    feats = torch.cat([dump['query_feats'], dump['gallery_feats']]).float()
    ids = np.concatenate(
        [np.asarray(dump['q_pids']),
         np.asarray(dump['g_pids'])]).astype(int)
    cams = np.concatenate(
        [np.asarray(dump['q_camids']),
         np.asarray(dump['g_camids'])]).astype(int)
    splits = (['query'] * len(dump['q_pids']) +
              ['gallery'] * len(dump['g_pids']))
    paths = list(dump['q_img_paths']) + list(dump['g_img_paths'])
    if max_ids is not None and max_ids < 1:
        raise ValueError(f'max_ids must be >= 1, got {max_ids}')
    if max_ids is not None or exclude_ids:
        kept = sorted(set(ids.tolist()) - {int(i) for i in exclude_ids})
        kept = set(kept[:max_ids] if max_ids is not None else kept)
        if not kept:
            raise ValueError(f'no identity is left after excluding '
                             f'{list(exclude_ids)}')
        keep = np.array([i in kept for i in ids.tolist()])
        feats = feats[torch.from_numpy(keep)]
        ids, cams = ids[keep], cams[keep]
        splits = [s for s, k in zip(splits, keep) if k]
        paths = [p for p, k in zip(paths, keep) if k]
    return dict(feats=feats, ids=ids, cams=cams, splits=splits, paths=paths)


def write_embedding_csv(coords: np.ndarray, table: Dict[str, object],
                        out_file: str) -> None:
    """Write ``x, y, id, camera, split, path``, one row per image.

    Args:
        coords (numpy.ndarray): ``(M, 2)`` coordinates.
        table (dict): From :func:`embedding_table`.
        out_file (str): Output ``.csv`` path.
    """
    rows: List[tuple] = list(
        zip(coords[:, 0], coords[:, 1], table['ids'], table['cams'],
            table['splits'], table['paths']))
    mkdir_or_exist(osp.dirname(osp.abspath(out_file)))
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for x, y, pid, cam, split, path in rows:
            writer.writerow(
                [f'{x:.6f}', f'{y:.6f}',
                 int(pid),
                 int(cam), split, path])
