from .corruptions import (CORRUPTIONS, BaseCorruption, DownscaleCorruption,
                          GaussianBlurCorruption, GaussianNoiseCorruption,
                          JPEGCorruption, WaveletHFRemoval)
from .formatting import PackReIDInputs
from .loading import LoadReIDImage

__all__ = [
    'PackReIDInputs', 'LoadReIDImage', 'BaseCorruption',
    'GaussianBlurCorruption', 'DownscaleCorruption', 'JPEGCorruption',
    'GaussianNoiseCorruption', 'WaveletHFRemoval', 'CORRUPTIONS'
]
