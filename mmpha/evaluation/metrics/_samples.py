"""Reading the data samples and results shared by the re-ID metrics."""
from typing import List, Sequence, Tuple, Union

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor


def read_sample(sample: Union[dict, BaseDataElement], keys: Sequence[str],
                owner: str) -> Tuple[dict, Tensor]:
    """Check one data sample and take its feature.

    Args:
        sample (dict | BaseDataElement): An output of the model with
            ``pred_feature`` (``(D, )`` tensor) and the other ``keys``.
        keys (Sequence[str]): The keys the metric needs, ``pred_feature``
            first (at least two).
        owner (str): Name of the metric, for the error message.

    Returns:
        tuple[dict, Tensor]: The sample as a dict and its ``(D, )`` float32
        feature on the CPU, detached.

    Raises:
        KeyError: If a key is missing.
        ValueError: If ``pred_feature`` is not one-dimensional.
    """
    if isinstance(sample, BaseDataElement):
        sample = sample.to_dict()
    missing = [key for key in keys if key not in sample]
    if missing:
        needs = ', '.join(keys[:-1]) + ' and ' + keys[-1]
        raise KeyError(f'{owner} needs {needs} in every data sample; '
                       f'{missing} missing (got {sorted(sample)}).')
    feature = torch.as_tensor(sample['pred_feature'])
    if feature.dim() != 1:
        raise ValueError('pred_feature must have shape (D,), got '
                         f'{tuple(feature.shape)}.')
    return sample, feature.detach().float().cpu()


def check_feature_widths(results: List[dict]) -> None:
    """Raise a ``ValueError`` unless every ``feature`` has the same width.

    Args:
        results (list[dict]): Results with a ``feature`` tensor each.
    """
    widths = {r['feature'].numel() for r in results}
    if len(widths) != 1:
        raise ValueError(f'All features must have the same width, got '
                         f'widths {sorted(widths)}.')
