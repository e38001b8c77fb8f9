"""Random initialisation of a model without MMEngine's per-parameter log."""
import logging

from mmengine.logging import MMLogger
from torch import nn


def init_weights_quietly(model: nn.Module) -> nn.Module:
    """Call ``model.init_weights()`` with the current logger at WARNING.

    MMEngine logs one INFO line per parameter when it initialises a model;
    for a random initialisation (analyses, benchmarks, tests) that output is
    noise. The logger's level is restored afterwards, also on an error.

    Args:
        model (nn.Module): A model; one without ``init_weights`` is left
            as it is.

    Returns:
        nn.Module: ``model``.
    """
    if not hasattr(model, 'init_weights'):
        return model
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model
