"""DukeMTMC-reID (Zheng et al., ICCV 2017)."""
from typing import Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import SplitType
from .custom import ReIDFolderDataset


@DATASETS.register_module()
class DukeMTMC(ReIDFolderDataset):
    """DukeMTMC-reID in its published layout (the Market-1501 one).

    ::

        data_root/                       # e.g. data/dukemtmc
        ├── bounding_box_train/          # 16,522 images, 702 ids
        │   └── 0001_c2_f0046182.jpg     # pid 0001, camera 2, frame
        ├── query/                       # 2,228 images, 702 ids
        └── bounding_box_test/           # 17,661 images, 1,110 ids

    Cameras c1..c8 (0-based ``cam_id`` 0..7). The gallery's extra
    identities are ordinary ids that no query shares.

    Args:
        data_root (str): The folder holding the three split folders.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        num_cameras (int, optional): Overrides the 8 cameras of the layout.
            Defaults to 8.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{bounding_box_train,query,bounding_box_test}/ with '
              'files named like 0001_c2_f0046182.jpg (pid_cC_frame)')

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 num_cameras: Optional[int] = 8,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split=split,
            suffixes=('.jpg', ),
            num_cameras=num_cameras,
            **kwargs)
