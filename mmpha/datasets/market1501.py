"""Market-1501 (Zheng et al., ICCV 2015)."""
from typing import Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import SplitType
from .custom import ReIDFolderDataset


@DATASETS.register_module()
class Market1501(ReIDFolderDataset):
    """Market-1501 in its published layout.

    ::

        data_root/                       # e.g. data/market1501
        ├── bounding_box_train/          # 12,936 images, 751 ids
        │   └── 0002_c1s1_000451_03.jpg  # pid 0002, camera 1, sequence 1
        ├── query/                       # 3,368 images, 750 ids
        └── bounding_box_test/           # 19,732 files: 15,913 kept

    Person ids are 0..1501 and cameras c1..c6 (0-based ``cam_id`` 0..5).
    Id -1 (junk boxes) is dropped from every split; id 0 (distractors) is
    kept in the gallery. Other files in the folders (e.g. ``Thumbs.db``)
    are ignored.

    Args:
        data_root (str): The folder holding the three split folders.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        num_cameras (int, optional): Overrides the 6 cameras of the layout.
            Defaults to 6.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{bounding_box_train,query,bounding_box_test}/ with '
              'files named like 0002_c1s1_000451_03.jpg (pid_cCsS_frame_box)')

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 num_cameras: Optional[int] = 6,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split=split,
            suffixes=('.jpg', ),
            num_cameras=num_cameras,
            distractor_pids=(0, ),
            pid_range=(0, 1501),
            **kwargs)
