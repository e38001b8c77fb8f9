"""What a benchmark runs on: a random-initialised model of a config and a
fixed synthetic P x K batch."""
import copy
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample
from mmpha.utils import init_weights_quietly, strip_pretrained


def find_key(cfg: Any, key: str) -> Optional[Any]:
    """First value of ``key`` in a nested config, depth first."""
    if isinstance(cfg, dict):
        if key in cfg and cfg[key] is not None:
            return cfg[key]
        for value in cfg.values():
            found = find_key(value, key)
            if found is not None:
                return found
    elif isinstance(cfg, list):
        for item in cfg:
            found = find_key(item, key)
            if found is not None:
                return found
    return None


def model_config(cfg: Config) -> ConfigDict:
    """The model config of a run config, random-initialised.

    The run's top-level ``data_preprocessor`` is put in the model config
    when the model has none (as the Runner does) and every ``Pretrained``
    initialisation is removed.

    Args:
        cfg (Config): A run config.

    Returns:
        ConfigDict: A copy of ``cfg.model``.

    Raises:
        KeyError: If the config has no ``model``.
    """
    if cfg.get('model') is None:
        raise KeyError(f'the config {cfg.filename} has no "model"')
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor',
                             copy.deepcopy(cfg.data_preprocessor))
    strip_pretrained(model_cfg)
    return model_cfg


def input_size_of(model_cfg: dict) -> tuple:
    """The ``(H, W)`` input size a model config declares (``img_size``).

    Args:
        model_cfg (dict): Model config.

    Returns:
        tuple[int, int]: ``(H, W)``.

    Raises:
        KeyError: If no ``img_size`` is found.
    """
    size = find_key(model_cfg, 'img_size')
    if size is None:
        raise KeyError('the model config declares no img_size; pass the '
                       'input size explicitly')
    if isinstance(size, int):
        return (size, size)
    return (int(size[0]), int(size[1]))


def make_reid_batch(batch_size: int,
                    num_instances: int,
                    img_size: Sequence[int],
                    num_classes: int,
                    num_cameras: int = 1,
                    num_views: int = 1,
                    device: str = 'cpu',
                    seed: int = 0) -> Dict[str, list]:
    """A synthetic P x K batch in the format of ``PackReIDInputs``.

    Args:
        batch_size (int): B = P * K.
        num_instances (int): K, images per identity.
        img_size (Sequence[int]): ``(H, W)``.
        num_classes (int): Number of training identities; P distinct ones
            are drawn from them.
        num_cameras (int): Camera ids are drawn from ``[0, num_cameras)``.
            Defaults to 1.
        num_views (int): View ids are drawn from ``[0, num_views)``.
            Defaults to 1.
        device (str): Device of the image tensors. Defaults to 'cpu'.
        seed (int): Seed of the draw. Defaults to 0.

    Returns:
        dict: ``inputs``: B ``uint8`` tensors ``(3, H, W)``;
        ``data_samples``: B :class:`~mmpha.structures.ReIDDataSample` with
        ``gt_label``, ``cam_id`` and ``view_id``.

    Raises:
        ValueError: If B is not a multiple of K or there are fewer
            identities than P.
    """
    if num_instances < 1 or batch_size % num_instances != 0:
        raise ValueError(f'batch_size={batch_size} must be a positive '
                         f'multiple of num_instances={num_instances}')
    num_ids = batch_size // num_instances
    if num_classes < num_ids:
        raise ValueError(f'a batch of {num_ids} identities needs '
                         f'num_classes >= {num_ids}, got {num_classes}')
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randperm(num_classes, generator=gen)[:num_ids]
    labels = ids.repeat_interleave(num_instances)
    cams = torch.randint(0, max(1, num_cameras), (batch_size, ), generator=gen)
    views = torch.randint(0, max(1, num_views), (batch_size, ), generator=gen)
    height, width = int(img_size[0]), int(img_size[1])
    images = torch.randint(
        0,
        256, (batch_size, 3, height, width),
        generator=gen,
        dtype=torch.uint8).to(device)
    samples = []
    for i in range(batch_size):
        sample = ReIDDataSample()
        sample.set_gt_label(int(labels[i]))
        sample.set_cam_id(int(cams[i]))
        sample.set_view_id(int(views[i]))
        samples.append(sample)
    return dict(inputs=list(images.unbind(0)), data_samples=samples)


def build_benchmark_model(cfg: Config, device: str = 'cpu') -> nn.Module:
    """Build the model of a run config with random weights, in train mode.

    Args:
        cfg (Config): A run config.
        device (str): Device. Defaults to 'cpu'.

    Returns:
        nn.Module: The model.
    """
    model = init_weights_quietly(MODELS.build(model_config(cfg)))
    return model.to(device).train()
