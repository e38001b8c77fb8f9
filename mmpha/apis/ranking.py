"""Ranked lists from the feature dump of ``tools/test.py --out``.

Symbols: ``Q`` queries, ``G`` gallery images, ``D`` feature width, ``R``
queries selected for display, ``k`` neighbours per query.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from mmpha.utils.checkpoint import load_local_checkpoint
from mmpha.utils.tensor_ops import DistMetric, check_positive_int, pair_masks
from .inference import search

#: Keys that ``tools/test.py --out`` writes and the ranking needs.
DUMP_KEYS = ('query_feats', 'gallery_feats', 'q_pids', 'g_pids', 'q_camids',
             'g_camids', 'q_img_paths', 'g_img_paths')


def load_dump(path: str) -> dict:
    """Read and check a feature dump written by ``tools/test.py --out``.

    Args:
        path (str): The ``.pth`` file.

    Returns:
        dict: Its content: ``query_feats`` ``(Q, D)``, ``gallery_feats``
        ``(G, D)``, ``q_pids``/``q_camids`` ``(Q, )``, ``g_pids``/
        ``g_camids`` ``(G, )``, ``q_img_paths``/``g_img_paths`` and, when
        present, ``metrics``.

    Raises:
        FileNotFoundError: If the file does not exist.
        KeyError: If a key is missing; the message lists the missing keys.
        ValueError: If the lengths of the query or gallery entries differ.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'feature dump "{path}" does not exist; '
                                'write one with tools/test.py CONFIG '
                                'CHECKPOINT --out results.pth')
    dump = load_local_checkpoint(path, map_location='cpu')
    if not isinstance(dump, dict):
        raise ValueError(f'"{path}" holds a {type(dump).__name__}, expected '
                         'the dict written by tools/test.py --out')
    missing = [k for k in DUMP_KEYS if k not in dump]
    if missing:
        raise KeyError(f'"{path}" lacks the keys {missing}; expected the '
                       f'keys {list(DUMP_KEYS)} of tools/test.py --out')
    for prefix, feats in (('q', 'query_feats'), ('g', 'gallery_feats')):
        lengths = {
            key: len(dump[key])
            for key in (feats, f'{prefix}_pids', f'{prefix}_camids',
                        f'{prefix}_img_paths')
        }
        if len(set(lengths.values())) != 1:
            raise ValueError(f'"{path}": entries of different lengths '
                             f'{lengths}')
    return dump


@dataclass
class RankedLists:
    """The top-k gallery of selected queries.

    Args:
        query_indices (list[int]): ``R`` indices into the query split.
        gallery_indices (Tensor): ``(R, k)`` indices into the gallery,
            nearest first.
        dists (Tensor): ``(R, k)`` distances.
        matches (Tensor): ``(R, k)`` bool, True for the query's identity.
    """

    query_indices: List[int]
    gallery_indices: Tensor
    dists: Tensor
    matches: Tensor


def rank_dump(dump: dict,
              query_indices: Optional[Sequence[int]] = None,
              num_queries: int = 8,
              topk: int = 10,
              metric: DistMetric = 'euclidean',
              normalize: bool = True,
              exclude_same_camera: bool = True) -> RankedLists:
    """Rank the gallery for some queries of a feature dump.

    Args:
        dump (dict): As returned by :func:`load_dump`.
        query_indices (Sequence[int], optional): Queries to rank. Defaults to
            None (the first ``num_queries``).
        num_queries (int): Number of queries when ``query_indices`` is None.
            Defaults to 8.
        topk (int): Gallery images per query. Defaults to 10.
        metric (str): ``'euclidean'`` or ``'cosine'``. Defaults to
            ``'euclidean'``.
        normalize (bool): L2-normalise the features. Defaults to True.
        exclude_same_camera (bool): Leave out gallery images of the query's
            identity taken by the query's camera, as the evaluation protocol
            does. Defaults to True.

    Returns:
        RankedLists: The ranked lists.
    """
    num_q = len(dump['q_pids'])
    if query_indices is None:
        check_positive_int(num_queries, 'num_queries')
        query_indices = list(range(min(num_queries, num_q)))
    query_indices = [int(i) for i in query_indices]
    bad = [i for i in query_indices if not 0 <= i < num_q]
    if bad:
        raise ValueError(f'query indices {bad} are out of range: the dump '
                         f'has {num_q} queries')
    idx = torch.tensor(query_indices, dtype=torch.long)
    q_pids = torch.as_tensor(dump['q_pids'])[idx]
    q_cams = torch.as_tensor(dump['q_camids'])[idx]
    g_pids = torch.as_tensor(dump['g_pids'])
    g_cams = torch.as_tensor(dump['g_camids'])
    exclude = None
    if exclude_same_camera:
        exclude = pair_masks(q_pids, g_pids)[0] & pair_masks(q_cams, g_cams)[0]
    dists, g_idx = search(
        dump['query_feats'][idx],
        dump['gallery_feats'],
        topk=topk,
        metric=metric,
        normalize=normalize,
        exclude=exclude)
    matches = g_pids[g_idx] == q_pids[:, None]
    return RankedLists(query_indices, g_idx, dists, matches)
