"""Occluded-Duke (Miao et al., ICCV 2019): DukeMTMC-reID with occluded
queries."""
from typing import Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import SplitType
from .dukemtmc import DukeMTMC
from .published import (CheckStats, PublishedStatsMixin, SplitStats,
                        check_stats_mode, find_archive_root)


@DATASETS.register_module()
class OccludedDuke(PublishedStatsMixin, DukeMTMC):
    """Occluded-Duke in its published layout (that of DukeMTMC-reID).

    ::

        data_root/                       # e.g. data/Occluded_Duke
        ├── bounding_box_train/          # 15,618 images, 702 ids
        │   └── 0001_c2_f0046182.jpg     # pid 0001, camera 2, frame
        ├── query/                       # 2,210 images, 519 ids (occluded)
        └── bounding_box_test/           # 17,661 images, 1,110 ids

    The splits of Miao et al. ("Pose-Guided Feature Alignment for Occluded
    Person Re-Identification", ICCV 2019) re-cut from DukeMTMC-reID, with
    its file names: cameras c1..c8 (0-based ``cam_id`` 0..7), id ``-1``
    (junk) dropped everywhere, files that are not ``.jpg`` (e.g.
    ``Thumbs.db``) ignored, as for :class:`DukeMTMC`. A ``data_root`` that
    holds the ``Occluded_Duke/`` folder of the archive is read from that
    folder.

    Each split is compared with the published numbers above when it is
    loaded; the log says which split differs and how.

    Args:
        data_root (str): As for :class:`DukeMTMC` (or the folder holding
            the archive's ``Occluded_Duke/``); ``split`` and ``num_cameras``
            too.
        check_stats (str): ``'warn'`` logs a warning when a split differs
            from the published numbers, ``'error'`` raises ``ValueError``,
            ``'off'`` skips the check. Defaults to ``'warn'``.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{bounding_box_train,query,bounding_box_test}/ '
              '(the Occluded_Duke/ folder of the archive) with files named '
              'like 0001_c2_f0046182.jpg (pid_cC_frame)')
    PUBLISHED_NAME = 'Occluded-Duke'
    PUBLISHED = dict(
        train=SplitStats(702, 15618),
        query=SplitStats(519, 2210),
        gallery=SplitStats(1110, 17661))

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 num_cameras: Optional[int] = 8,
                 check_stats: CheckStats = 'warn',
                 **kwargs) -> None:
        self.check_stats = check_stats_mode(check_stats)
        if isinstance(data_root, str) and data_root:
            data_root = find_archive_root(data_root, 'Occluded_Duke',
                                          'bounding_box_train')
        super().__init__(
            data_root=data_root,
            split=split,
            num_cameras=num_cameras,
            **kwargs)
