"""Average query expansion (AQE) of re-ID features.

The definition of fast-reid's ``aqe()`` (JDAI-CV/fast-reid,
``fastreid/evaluation/query_expansion.py``; after Chum et al., ICCV 2007):
the query and gallery features are expanded together, each feature being
replaced by the weighted sum of its ``k`` most similar features of the
whole set (itself included), the weights being the cosine similarities to
the power ``alpha``, and then L2-normalised. fast-reid's configuration
defaults are ``QE_K = 5``, ``ALPHA = 3.0`` and ``QE_TIME = 1`` (one
expansion), which are the defaults here. (fast-reid averages rather than
sums the neighbours; after the normalisation that is the same.)

Symbols used in the shapes: ``Q`` queries, ``G`` gallery images,
``N = Q + G``, ``D`` feature width, ``C`` rows per chunk.
"""
from numbers import Real
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmpha.utils import check_feature_pair, check_positive_int


def average_query_expansion(query_feats: Tensor,
                            gallery_feats: Tensor,
                            k: int = 5,
                            alpha: float = 3.0,
                            chunk_size: int = 256) -> Tuple[Tensor, Tensor]:
    """Expand query and gallery features by their nearest neighbours.

    For every feature ``x_i`` of the concatenated set, with ``s_ij`` the
    cosine similarity of ``x_i`` and ``x_j`` and ``N_k(i)`` the ``k``
    indices of the largest ``s_ij`` (``i`` itself among them)::

        x_i' = normalise( sum_{j in N_k(i)} s_ij ** alpha * x_j )

    The sum uses the features as given (fast-reid's choice), the
    similarities their normalised copies. Equal similarities among the
    neighbours are broken as ``torch.topk`` breaks them. A negative
    similarity to a non-integer power is undefined; such a weight is 0
    (with ``k`` small the neighbours are the most similar features, so it
    practically never happens).

    Similarities are computed ``chunk_size`` rows at a time: the memory is
    the features plus a ``(C, N)`` block, never the ``(N, N)`` matrix.

    Args:
        query_feats (Tensor): ``(Q, D)`` query features.
        gallery_feats (Tensor): ``(G, D)`` gallery features.
        k (int): Neighbours combined, itself included, at most ``N``.
            Defaults to 5.
        alpha (float): Power of the similarity weights, >= 0. Defaults to
            3.0.
        chunk_size (int): Rows per similarity block. Defaults to 256.

    Returns:
        tuple[Tensor, Tensor]: The expanded ``(Q, D)`` query and ``(G, D)``
        gallery features, unit L2 norm, float32.

    Raises:
        ValueError: If the shapes do not fit, ``k`` is not in ``[1, N]`` or
            ``alpha`` is negative.
    """
    check_feature_pair(
        query_feats,
        gallery_feats, ('query_feats', 'gallery_feats'),
        allow_empty=False)
    feats = torch.cat([query_feats, gallery_feats]).float()
    num = feats.shape[0]
    k = check_positive_int(k, 'aqe_k')
    if k > num:
        raise ValueError(f'aqe_k must be at most the number of query + '
                         f'gallery images ({num}), got {k}.')
    if (isinstance(alpha, bool) or not isinstance(alpha, Real)
            or not alpha >= 0):
        raise ValueError(f'aqe_alpha must be a number >= 0, got {alpha!r}.')
    chunk_size = check_positive_int(chunk_size, 'chunk_size')
    unit = F.normalize(feats, dim=1)
    out = torch.empty_like(feats)
    for start in range(0, num, chunk_size):
        sims = unit[start:start + chunk_size] @ unit.T
        values, index = sims.topk(k, dim=1)
        weights = values.pow(float(alpha)).nan_to_num(nan=0.0)
        out[start:start + chunk_size] = torch.einsum('ck,ckd->cd', weights,
                                                     feats[index])
    out = F.normalize(out, dim=1)
    num_query = query_feats.shape[0]
    return out[:num_query], out[num_query:]
