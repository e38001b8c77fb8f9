"""Argument checks of the model code that ``mmpha.utils`` does not hold.

Positive ints use :func:`mmpha.utils.check_positive_int`; this module adds
the one bound it lacks, ``>= 0`` (counts that may be zero: SIE cameras and
views, the JPM shift).
"""
from numbers import Integral

from mmpha.utils import IntTypeError


def check_non_negative_int(value: object, name: str) -> int:
    """Check that an argument is an integer ``>= 0``.

    Args:
        value (object): The value given; any :class:`numbers.Integral`
            except ``bool``.
        name (str): The argument's name, used in the message.

    Returns:
        int: ``value`` as a Python int.

    Raises:
        IntTypeError: (a ``TypeError`` and a ``ValueError``) if ``value`` is
            not an integer.
        ValueError: If ``value < 0``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise IntTypeError(f'{name} must be an int >= 0, got {value!r} '
                           f'({type(value).__name__})')
    if value < 0:
        raise ValueError(f'{name} must be an int >= 0, got {value!r}')
    return int(value)
