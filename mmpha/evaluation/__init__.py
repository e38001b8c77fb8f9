"""Evaluation metrics."""
import mmpretrain.evaluation  # noqa: F401

from .metrics import *  # noqa: F401,F403
from .metrics import append_metrics_to_dump, check_output_file

__all__ = ['append_metrics_to_dump', 'check_output_file']
