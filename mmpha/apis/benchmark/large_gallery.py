"""Time and peak memory of the exact evaluation against a huge gallery.

:func:`make_feature_data` draws Market-1501-like features (identity
clusters, unit length) for the query and the labelled gallery, plus
``num_distractors`` never-matching distractor features, generated chunk by
chunk straight into a float16 tensor so that a million 768-d features take
1.5 GB, not 3 GB plus temporaries. :func:`benchmark_large_gallery` runs
:func:`~mmpha.evaluation.functional.evaluate_chunked` on them and reads
the clock and the process's resident set size.

Symbols: ``Q`` queries, ``G`` gallery images (labelled + distractors),
``D`` feature width.
"""
import time
from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F

from mmpha.evaluation.functional import evaluate_chunked
from mmpha.utils import check_positive_int
from .timing import current_rss_mib, peak_rss_mib

#: Person id of the distractor images: no query has it.
DISTRACTOR_ID = -1


def make_feature_data(num_query: int,
                      num_gallery: int,
                      num_distractors: int,
                      num_ids: int,
                      num_cams: int,
                      dim: int,
                      seed: int = 0,
                      noise: float = 1.0,
                      dtype: torch.dtype = torch.float16,
                      chunk: int = 65536) -> Dict[str, torch.Tensor]:
    """Random unit features of a query set and a gallery with distractors.

    An image of id ``i`` is ``normalise(centre_i + noise * n / sqrt(D))``,
    ``n`` standard normal; a distractor is a random unit vector with id
    :data:`DISTRACTOR_ID`. The distractors follow the labelled gallery.

    Args:
        num_query (int): Q.
        num_gallery (int): Labelled gallery images.
        num_distractors (int): Distractors appended to the gallery.
        num_ids (int): Ids are drawn from ``[0, num_ids)``.
        num_cams (int): Cameras are drawn from ``[0, num_cams)``.
        dim (int): D.
        seed (int): Seed of the draw. Defaults to 0.
        noise (float): Spread of an identity around its centre (1 is about
            the distance between centres). Defaults to 1.0.
        dtype (torch.dtype): Storage dtype of the gallery. Defaults to
            float16.
        chunk (int): Features generated at once. Defaults to 65536.

    Returns:
        dict[str, Tensor]: ``query_feats`` ``(Q, D)`` float32,
        ``gallery_feats`` ``(G, D)`` in ``dtype``, ``q_pids``,
        ``q_camids`` ``(Q, )`` and ``g_pids``, ``g_camids`` ``(G, )``
        int64.
    """
    for value, name in ((num_query, 'num_query'), (num_gallery, 'num_gallery'),
                        (num_ids, 'num_ids'), (num_cams, 'num_cams'),
                        (dim, 'dim'), (chunk, 'chunk')):
        check_positive_int(value, name)
    if num_distractors < 0:
        raise ValueError(
            f'num_distractors must be >= 0, got {num_distractors}.')
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_ids, dim, generator=gen), dim=1)
    scale = noise / dim**0.5

    def labelled(pids: torch.Tensor) -> torch.Tensor:
        feats = centres[pids] + scale * torch.randn(
            pids.numel(), dim, generator=gen)
        return F.normalize(feats, dim=1)

    q_pids = torch.randint(0, num_ids, (num_query, ), generator=gen)
    g_labelled = torch.randint(0, num_ids, (num_gallery, ), generator=gen)
    total = num_gallery + num_distractors
    g_pids = torch.cat([
        g_labelled,
        torch.full((num_distractors, ), DISTRACTOR_ID, dtype=torch.long)
    ])
    gallery = torch.empty(total, dim, dtype=dtype)
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        ids = g_pids[start:stop]
        feats = F.normalize(
            torch.randn(stop - start, dim, generator=gen), dim=1)
        known = ids != DISTRACTOR_ID
        if bool(known.any()):
            feats[known] = labelled(ids[known])
        gallery[start:stop] = feats.to(dtype)
    return dict(
        query_feats=labelled(q_pids),
        gallery_feats=gallery,
        q_pids=q_pids,
        q_camids=torch.randint(0, num_cams, (num_query, ), generator=gen),
        g_pids=g_pids,
        g_camids=torch.randint(0, num_cams, (total, ), generator=gen))


def benchmark_large_gallery(data: Dict[str, torch.Tensor],
                            max_rank: int = 50,
                            query_chunk: int = 1024,
                            gallery_chunk: Optional[int] = None,
                            timer: Callable[[], float] = time.perf_counter
                            ) -> dict:
    """Run the exact chunked evaluation once and measure it.

    Args:
        data (dict[str, Tensor]): From :func:`make_feature_data` (unit
            features: they are not normalised again).
        max_rank (int): Length of the CMC curve. Defaults to 50.
        query_chunk (int): Queries per chunk. Defaults to 1024.
        gallery_chunk (int, optional): Gallery images per chunk. Defaults
            to None (the default of
            :func:`~mmpha.evaluation.functional.evaluate_chunked`).
        timer (Callable[[], float]): The clock, in seconds. Defaults to
            :func:`time.perf_counter`.

    Returns:
        dict: ``time`` (s), ``rss_before_mib`` (resident set before the
        evaluation), ``peak_rss_mib`` (the process's peak resident set so
        far), ``feature_mib`` (size of the features) and ``result`` (the
        metrics).
    """
    feature_mib = sum(data[k].numel() * data[k].element_size()
                      for k in ('query_feats', 'gallery_feats')) / 2**20
    rss_before = current_rss_mib()
    start = timer()
    result = evaluate_chunked(
        data['query_feats'],
        data['gallery_feats'],
        data['q_pids'],
        data['g_pids'],
        data['q_camids'],
        data['g_camids'],
        norm_feat=False,
        max_rank=max_rank,
        query_chunk=query_chunk,
        gallery_chunk=gallery_chunk)
    elapsed = timer() - start
    return dict(
        time=elapsed,
        rss_before_mib=rss_before,
        peak_rss_mib=peak_rss_mib(),
        feature_mib=feature_mib,
        result=result)
