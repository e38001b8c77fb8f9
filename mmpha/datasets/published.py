"""Published statistics of a dataset, checked when a split is loaded.

A public benchmark is only comparable with the papers when every image of
its split is there. :class:`PublishedStatsMixin` compares the identities
and images of a loaded split with the numbers of the dataset's paper (or
archive), logs both, and says which split is off when they differ: a
warning by default, an error with ``check_stats='error'``.
"""
import logging
import os.path as osp
from typing import Dict, List, Literal, NamedTuple, Optional, Tuple

from mmengine.logging import print_log

CheckStats = Literal['warn', 'error', 'off']
CHECK_STATS: Tuple[str, ...] = ('warn', 'error', 'off')


class SplitStats(NamedTuple):
    """The published size of one split.

    Args:
        num_ids (int): Distinct identities.
        num_images (int, optional): Images; None when the archive and the
            paper disagree, so that only the identities are checked.
    """

    num_ids: int
    num_images: Optional[int]


def check_stats_mode(value: str) -> str:
    """Raise ``ValueError`` unless ``value`` is one of :data:`CHECK_STATS`.

    Args:
        value (str): The ``check_stats`` argument of a dataset.

    Returns:
        str: ``value``.
    """
    if value not in CHECK_STATS:
        raise ValueError(
            f'check_stats must be one of {CHECK_STATS}, got {value!r}.')
    return value


def find_archive_root(data_root: str, archive_dir: str, marker: str) -> str:
    """Accept the folder that holds the archive's top folder as data_root.

    The archives unpack into one top folder (``Occluded_Duke/``,
    ``VeRi/``, ``VehicleID_V1.0/``). A ``data_root`` that does not hold
    ``marker`` but whose ``archive_dir`` sub-folder does is taken to mean
    that sub-folder.

    Args:
        data_root (str): The configured root.
        archive_dir (str): The top folder of the archive.
        marker (str): A folder or file that the real root holds.

    Returns:
        str: ``data_root`` or ``data_root/archive_dir``.
    """
    data_root = str(data_root)
    inner = osp.join(data_root, archive_dir)
    if not osp.exists(osp.join(data_root, marker)) and osp.exists(
            osp.join(inner, marker)):
        print_log(
            f'{data_root} holds the archive folder {archive_dir}/: reading '
            f'the dataset from {inner}.',
            logger='current')
        return inner
    return data_root


class PublishedStatsMixin:
    """Compare a loaded split with its published size.

    A dataset class that mixes this in sets :attr:`PUBLISHED` (split name
    to :class:`SplitStats`), :attr:`PUBLISHED_NAME` (the benchmark's name,
    for messages) and ``self.check_stats``, and lists the mixin before its
    dataset base class: :meth:`load_data_list` loads the split with that
    class, then calls :meth:`check_published` once ``metainfo`` holds
    ``num_classes`` and ``num_images``.
    """

    PUBLISHED: Dict[str, SplitStats] = {}
    PUBLISHED_NAME: str = ''
    check_stats: str = 'warn'

    def load_data_list(self) -> List[dict]:
        """Load the split, then compare it with the published numbers.

        Returns:
            list[dict]: The data infos.
        """
        data_list = super().load_data_list()  # type: ignore[misc]
        self.check_published()
        return data_list

    def published_key(self) -> str:
        """Return the key of :attr:`PUBLISHED` of this split.

        Returns:
            str: The split name unless a subclass refines it.
        """
        return self.split  # type: ignore[attr-defined]

    def check_published(self) -> None:
        """Log the size of the split and compare it with :attr:`PUBLISHED`.

        Raises:
            ValueError: With ``check_stats='error'``, when the identities or
                images differ from the published numbers.
        """
        if self.check_stats == 'off':
            return
        meta = self._metainfo  # type: ignore[attr-defined]
        name = self.name  # type: ignore[attr-defined]
        split = self.split  # type: ignore[attr-defined]
        num_ids, num_images = meta['num_classes'], meta['num_images']
        expected = self.PUBLISHED.get(self.published_key())
        found = f'{num_images} images of {num_ids} ids'
        if expected is None:
            print_log(f'{name} {split}: {found}.', logger='current')
            return
        want = (f'{expected.num_ids} ids' if expected.num_images is None else
                f'{expected.num_images} images of {expected.num_ids} ids')
        bad = [f'{num_ids} ids instead of {expected.num_ids}'
               ] if num_ids != expected.num_ids else []
        if expected.num_images is not None and num_images != \
                expected.num_images:
            bad.append(f'{num_images} images instead of '
                       f'{expected.num_images}')
        if not bad:
            print_log(
                f'{name} {split}: {found}, as published ({want}).',
                logger='current')
            return
        source = self.describe_source()  # type: ignore[attr-defined]
        message = (f'{name}: the "{split}" split of {source} '
                   f'has {" and ".join(bad)}: the published '
                   f'{self.PUBLISHED_NAME} {split} split has {want}. Check '
                   'that the archive was extracted completely (set '
                   'check_stats="off" for a modified copy).')
        if self.check_stats == 'error':
            raise ValueError(message)
        print_log(message, logger='current', level=logging.WARNING)
