"""The frequency-robustness benchmark: re-ID metrics under corruptions.

A model is evaluated on the test set of its config, clean and with one
corruption (:mod:`mmpha.datasets.transforms.corruptions`) inserted in the
test pipeline right after image loading, at each severity. The evaluation
is that of ``tools/test.py``: the test dataset and the ``test_evaluator``
of the config (``ReIDMetric``), the model's ``predict`` mode.
"""
import copy
import time
from typing import Dict, Iterable, List, Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmengine.model import BaseModel

from mmpha.datasets.transforms.corruptions import (ApplyTo, corruption_cfg,
                                                   insert_after_loading)
from mmpha.registry import DATASETS

#: The name and severity of the uncorrupted evaluation in the results.
CLEAN = 'clean'


def _insert(node: dict, transform: dict) -> int:
    """Insert ``transform`` in every pipeline of a dataset config tree."""
    count = 0
    if 'pipeline' in node:
        node['pipeline'] = insert_after_loading(node['pipeline'], transform)
        count += 1
    for child in node.get('datasets', None) or []:
        count += _insert(child, transform)
    if isinstance(node.get('dataset'), dict):
        count += _insert(node['dataset'], transform)
    return count


def corrupt_test_config(cfg: Config, transform: Optional[dict]) -> Config:
    """A copy of a config whose test pipelines apply ``transform``.

    Args:
        cfg (Config): A full mmpha config with ``test_dataloader``.
        transform (dict, optional): The transform config (e.g. from
            :func:`~mmpha.datasets.transforms.corruptions.corruption_cfg`),
            inserted after the image-loading transform of every pipeline
            of ``test_dataloader.dataset`` (both children of the query +
            gallery ``ConcatDataset``). None returns an unchanged copy.

    Returns:
        Config: The new config (``cfg`` is not changed).

    Raises:
        KeyError: If the config has no ``test_dataloader.dataset`` or it
            holds no pipeline.
    """
    out = copy.deepcopy(cfg)
    loader = out.get('test_dataloader')
    if loader is None or loader.get('dataset') is None:
        raise KeyError('the config has no test_dataloader.dataset to '
                       'corrupt')
    if transform is not None and _insert(loader['dataset'], transform) == 0:
        raise KeyError('found no "pipeline" in test_dataloader.dataset: '
                       f'{loader["dataset"]}')
    return out


@torch.no_grad()
def evaluate_test_set(model: BaseModel,
                      cfg: Config,
                      batch_size: Optional[int] = None) -> Dict[str, float]:
    """The test metrics of a model on the test set of a config.

    The test dataset of ``cfg`` goes through the model in ``predict`` mode
    and into an MMEngine ``Evaluator`` of ``cfg.test_evaluator``, as
    ``tools/test.py``'s test loop does (in this process, without data
    loader workers: the corruptions are seeded per image, so the numbers
    are the same).

    Args:
        model (BaseModel): A re-ID model in eval mode (see
            :func:`~mmpha.apis.init_model`).
        cfg (Config): The config whose ``test_dataloader.dataset`` and
            ``test_evaluator`` are used.
        batch_size (int, optional): Images per forward pass. Defaults to
            None (``test_dataloader.batch_size``, or 32).

    Returns:
        dict[str, float]: The evaluator's metrics, e.g. ``mAP`` and ``R1``
        in percent.
    """
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
    if batch_size is None:
        batch_size = cfg.test_dataloader.get('batch_size', 32)
    evaluator = Evaluator(copy.deepcopy(cfg.test_evaluator))
    evaluator.dataset_meta = getattr(dataset, 'metainfo', None)
    for start in range(0, len(dataset), batch_size):
        batch = pseudo_collate([
            dataset[i]
            for i in range(start, min(start + batch_size, len(dataset)))
        ])
        data = model.data_preprocessor(batch, False)
        outputs = model(data['inputs'], data['data_samples'], mode='predict')
        evaluator.process(data_samples=outputs, data_batch=data)
    return evaluator.evaluate(len(dataset))


def robustness_benchmark(model: BaseModel,
                         cfg: Config,
                         corruptions: Iterable[str],
                         severities: Iterable[int],
                         apply_to: ApplyTo = 'query',
                         seed: int = 0,
                         batch_size: Optional[int] = None,
                         log=None) -> List[dict]:
    """Evaluate a model clean and under every corruption and severity.

    Args:
        model (BaseModel): A re-ID model in eval mode.
        cfg (Config): Its config (the test set and evaluator are used).
        corruptions (Iterable[str]): Short names, keys of
            :data:`~mmpha.datasets.transforms.corruptions.CORRUPTIONS`.
        severities (Iterable[int]): Severities, each in 1..5.
        apply_to (str): ``'query'``, ``'gallery'`` or ``'all'``. Defaults
            to ``'query'``.
        seed (int): Base seed of the random corruptions. Defaults to 0.
        batch_size (int, optional): See :func:`evaluate_test_set`.
        log (callable, optional): Called with a line of progress after each
            evaluation. Defaults to None.

    Returns:
        list[dict]: One dict per evaluation, the clean one first:
        ``corruption`` (``'clean'`` or a short name), ``severity`` (0 for
        clean), ``metrics`` (the evaluator's dict) and ``seconds``.
    """
    jobs = [(CLEAN, 0, None)]
    for name in corruptions:
        for severity in severities:
            if severity < 1:
                raise ValueError(f'severities must be in 1..5 (the clean '
                                 f'evaluation is always run), got {severity}')
            jobs.append(
                (name, severity, corruption_cfg(name, severity, apply_to,
                                                seed)))
    rows = []
    for name, severity, transform in jobs:
        start = time.perf_counter()
        metrics = evaluate_test_set(model, corrupt_test_config(cfg, transform),
                                    batch_size)
        rows.append(
            dict(
                corruption=name,
                severity=severity,
                metrics=metrics,
                seconds=time.perf_counter() - start))
        if log is not None:
            shown = ', '.join(f'{k} {v:.2f}' for k, v in metrics.items()
                              if k in ('mAP', 'R1'))
            log(f'{name} {severity}: {shown} '
                f'({rows[-1]["seconds"]:.1f} s)')
    return rows
