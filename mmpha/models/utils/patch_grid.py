"""The patch grid of a ViT patch embedding: the one definition used by the
backbone, the PHA neck, the patch selection and the weight converters."""
from typing import Sequence, Tuple, Union

IntPair = Union[int, Sequence[int]]


def to_int_pair(value: IntPair, name: str) -> Tuple[int, int]:
    """An int or a pair of ints as ``(h, w)``.

    Args:
        value (int | Sequence[int]): The value given.
        name (str): The argument's name, used in the message.

    Returns:
        tuple[int, int]: ``(value, value)`` for an int, else the pair.

    Raises:
        TypeError: If ``value`` is neither.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return int(value[0]), int(value[1])
    raise TypeError(f'{name} must be an int or a pair of ints, got {value!r}')


def patch_grid_size(img_size: IntPair, patch_size: IntPair,
                    stride: IntPair) -> Tuple[int, int]:
    """Patch grid of an unpadded (possibly overlapping) patch embedding.

    Args:
        img_size (int | tuple[int, int]): Image size ``(H, W)``.
        patch_size (int | tuple[int, int]): Patch (kernel) size.
        stride (int | tuple[int, int]): Step between patches.

    Returns:
        tuple[int, int]: ``(Hp, Wp)`` with ``Hp = (H - ph) // sh + 1``, e.g.
        ``(21, 10)`` for 256x128, patch 16, stride 12.

    Raises:
        TypeError: If a size is not an int or a pair of ints.
        ValueError: If a size is not positive or the image is smaller than
            one patch.
    """
    sizes = dict(
        img_size=to_int_pair(img_size, 'img_size'),
        patch_size=to_int_pair(patch_size, 'patch_size'),
        stride=to_int_pair(stride, 'stride'))
    for name, value in sizes.items():
        if min(value) < 1:
            raise ValueError(f'{name} must hold positive ints, got {value}')
    (h, w), (ph, pw), (sh, sw) = sizes.values()
    if h < ph or w < pw:
        raise ValueError(f'image size {h}x{w} is smaller than the patch '
                         f'size {ph}x{pw}')
    return (h - ph) // sh + 1, (w - pw) // sw + 1
