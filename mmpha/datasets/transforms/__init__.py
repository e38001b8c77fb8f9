from .formatting import PackReIDInputs
from .loading import LoadReIDImage

__all__ = ['PackReIDInputs', 'LoadReIDImage']
