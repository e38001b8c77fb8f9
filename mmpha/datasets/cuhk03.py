"""CUHK03-NP: CUHK03 (Li et al., CVPR 2014) with the 767/700 split."""
import os.path as osp
from typing import List, Literal, Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import RawRecord, SplitType, check_dir
from .custom import ReIDFolderDataset

SUBSETS = ('labeled', 'detected')


@DATASETS.register_module()
class CUHK03(ReIDFolderDataset):
    """CUHK03-NP (the new protocol of Zhong et al., CVPR 2017).

    ``data_root`` holds one sub-folder per kind of bounding box, each in
    the Market-1501 layout with ``.png`` files::

        data_root/                       # e.g. data/cuhk03-np
        ├── labeled/
        │   ├── bounding_box_train/      # 7,368 images, 767 ids
        │   │   └── 0001_c1_1.png        # pid 0001, camera 1, image 1
        │   ├── query/                   # 1,400 images, 700 ids
        │   └── bounding_box_test/       # 5,328 images, 700 ids
        └── detected/                    # 7,365 / 1,400 / 5,332 images

    Cameras c1..c2 (0-based ``cam_id`` 0..1).

    Args:
        data_root (str): The folder holding ``labeled/`` and ``detected/``.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        subset (str): ``'labeled'`` (hand-drawn boxes) or ``'detected'``
            (DPM boxes). Defaults to ``'labeled'``.
        num_cameras (int, optional): Overrides the 2 cameras of the layout.
            Defaults to 2.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{labeled,detected}/{bounding_box_train,query,'
              'bounding_box_test}/ with files named like 0001_c1_1.png '
              '(pid_cC_index)')

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 subset: Literal['labeled', 'detected'] = 'labeled',
                 num_cameras: Optional[int] = 2,
                 **kwargs) -> None:
        if subset not in SUBSETS:
            raise ValueError(
                f'subset must be one of {SUBSETS}, got {subset!r}.')
        self.subset = subset
        self.cuhk03_root = str(data_root)
        super().__init__(
            data_root=osp.join(str(data_root), subset),
            split=split,
            suffixes=('.png', ),
            num_cameras=num_cameras,
            **kwargs)

    def load_records(self) -> List[RawRecord]:
        """Check the subset folder, then scan the split folder.

        Returns:
            list[RawRecord]: One record per image.
        """
        check_dir(self.cuhk03_root, self.LAYOUT, 'dataset root')
        check_dir(self.data_root, self.LAYOUT, f'"{self.subset}" folder')
        return super().load_records()

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [f'subset: {self.subset}']
