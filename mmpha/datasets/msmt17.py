"""MSMT17 (Wei et al., CVPR 2018), versions 1 and 2."""
import os.path as osp
from typing import Dict, List, Literal, Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import (BaseReIDDataset, RawRecord, SplitType,
                                check_dir, check_file)
from .custom import parse_list_file

VERSIONS = ('v1', 'v2')
#: Image folders (train, test) of each release.
MSMT17_DIRS: Dict[str, Dict[str, str]] = dict(
    v1=dict(train='train', test='test'),
    v2=dict(train='mask_train_v2', test='mask_test_v2'))


def msmt17_camera(path: str) -> int:
    """Read the camera from an MSMT17 file name.

    Names look like ``0000_000_01_0303morning_0015_0.jpg``: person id,
    index, camera (01..15), date and time, frame, box.

    Args:
        path (str): The image path of a list line.

    Returns:
        int: The camera number (1-based).

    Raises:
        ValueError: When the name has no integer third field.
    """
    fields = osp.basename(path).split('_')
    if len(fields) < 3 or not fields[2].isdigit():
        raise ValueError(
            f'The MSMT17 file name "{path}" does not match the expected '
            'pattern PPPP_III_CC_DATETIME_FFFF_B.jpg (camera CC = 01..15).')
    return int(fields[2])


@DATASETS.register_module()
class MSMT17(BaseReIDDataset):
    """MSMT17 in its published layouts, V1 and V2 (faces masked).

    ::

        data_root/                  # e.g. data/MSMT17_V1 or data/MSMT17_V2
        ├── train/                  # V2: mask_train_v2/
        │   └── 0000/0000_000_01_0303morning_0015_0.jpg
        ├── test/                   # V2: mask_test_v2/
        ├── list_train.txt          # lines "relative/path pid"
        ├── list_val.txt
        ├── list_query.txt
        └── list_gallery.txt

    Each list line is ``relative/path pid``; the camera (01..15, 0-based
    ``cam_id`` 0..14) is the third ``_`` field of the file name. The train
    and val lists point into the train folder, the query and gallery lists
    into the test folder.

    With ``combine_train_val=True`` (the default) the train split is
    ``list_train.txt`` + ``list_val.txt``: 32,621 images of 1,041 ids, the
    training set of the MSMT17 paper and of the TransReID / PHA releases.
    With False it is ``list_train.txt`` alone (30,248 images). The query
    split has 11,659 images and the gallery 82,161 (3,060 ids).

    Args:
        data_root (str): The folder holding the image folders and lists.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        version (str): ``'v1'`` (``train/ test/``) or ``'v2'``
            (``mask_train_v2/ mask_test_v2/``). Defaults to ``'v1'``.
        combine_train_val (bool): Whether the train split includes
            ``list_val.txt``. Defaults to True.
        num_cameras (int, optional): Overrides the 15 cameras of the
            layout. Defaults to 15.
        allow_outside_root (bool): Accept list entries that resolve outside
            ``data_root`` and the image folder (checked as for
            :class:`~mmpha.datasets.ReIDListDataset`). Defaults to False.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`BaseReIDDataset`.
    """

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 version: Literal['v1', 'v2'] = 'v1',
                 combine_train_val: bool = True,
                 num_cameras: Optional[int] = 15,
                 allow_outside_root: bool = False,
                 **kwargs) -> None:
        if version not in VERSIONS:
            raise ValueError(
                f'version must be one of {VERSIONS}, got {version!r}.')
        if not isinstance(combine_train_val, bool):
            raise TypeError('combine_train_val must be a bool, got '
                            f'{combine_train_val!r}.')
        if not isinstance(allow_outside_root, bool):
            raise TypeError('allow_outside_root must be a bool, got '
                            f'{allow_outside_root!r}.')
        self.version = version
        self.allow_outside_root = allow_outside_root
        self.combine_train_val = combine_train_val
        super().__init__(
            data_root=data_root,
            split=split,
            junk_pids=(),
            distractor_pids=(),
            pid_range=(0, None),
            cam_base=1,
            num_cameras=num_cameras,
            **kwargs)

    def layout(self) -> str:
        """Describe the expected layout of :attr:`version`.

        Returns:
            str: The description quoted in errors.
        """
        dirs = MSMT17_DIRS[self.version]
        return (f'MSMT17 {self.version.upper()}: data_root/{{{dirs["train"]}/'
                f', {dirs["test"]}/, list_train.txt, list_val.txt, '
                'list_query.txt, list_gallery.txt} with list lines '
                '"0000/0000_000_01_0303morning_0015_0.jpg 0"')

    def _list_files(self) -> List[str]:
        """Return the list files of the split."""
        names = dict(
            train=['list_train.txt'] +
            (['list_val.txt'] if self.combine_train_val else []),
            query=['list_query.txt'],
            gallery=['list_gallery.txt'])[self.split]
        return [osp.join(self.data_root, n) for n in names]

    def describe_source(self) -> str:
        """Return the list files of the split."""
        return ' + '.join(self._list_files())

    def load_records(self) -> List[RawRecord]:
        """Parse the list files of the split.

        Returns:
            list[RawRecord]: One record per line, in list order.
        """
        layout = self.layout()
        check_dir(self.data_root, layout, 'dataset root')
        dirs = MSMT17_DIRS[self.version]
        img_dir = osp.join(self.data_root,
                           dirs['train' if self.split == 'train' else 'test'])
        if not osp.isdir(img_dir):
            other = 'v1' if self.version == 'v2' else 'v2'
            other_dir = osp.join(self.data_root, MSMT17_DIRS[other]['train'])
            hint = (f' "{other_dir}" exists: set version="{other}".'
                    if osp.isdir(other_dir) else '')
            raise FileNotFoundError(
                f'The image folder "{img_dir}" does not exist. Expected '
                f'layout: {layout}.{hint}')
        records = []
        for list_file in self._list_files():
            check_file(list_file, layout, f'{self.split} list file')
            records += parse_list_file(
                list_file,
                img_dir,
                cam_from_name=msmt17_camera,
                data_root=self.data_root,
                allow_outside_root=self.allow_outside_root)
        return records

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [
            f'version: {self.version}',
            f'combine_train_val: {self.combine_train_val}'
        ]
