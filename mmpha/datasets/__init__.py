"""Re-ID datasets, samplers and transforms."""
import mmpretrain.datasets  # noqa: F401

from .base_reid_dataset import BaseReIDDataset
from .cuhk03 import CUHK03
from .custom import ReIDFolderDataset, ReIDListDataset
from .dataset_wrappers import CombinedReIDDataset
from .distractors import ReIDDistractors
from .dukemtmc import DukeMTMC
from .market1501 import Market1501
from .msmt17 import MSMT17
from .multi_test_sets import ReIDTestSets
from .occluded_duke import OccludedDuke
from .samplers import *  # noqa: F401,F403
from .synthreid import SynthReID
from .transforms import *  # noqa: F401,F403
from .vehicleid import VehicleID
from .veri import VeRi776
from .worker_init import reid_worker_init_fn

__all__ = [
    'BaseReIDDataset', 'CUHK03', 'DukeMTMC', 'Market1501', 'MSMT17',
    'ReIDFolderDataset', 'ReIDListDataset', 'SynthReID', 'reid_worker_init_fn',
    'OccludedDuke', 'VeRi776', 'VehicleID', 'CombinedReIDDataset',
    'ReIDTestSets', 'ReIDDistractors'
]
