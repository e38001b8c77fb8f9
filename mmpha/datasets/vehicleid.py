"""PKU VehicleID (Liu et al., CVPR 2016)."""
import os.path as osp
import re
from typing import Dict, List, Literal, Optional

from mmpha.registry import DATASETS
from .base_reid_dataset import (BaseReIDDataset, RawRecord, check_dir,
                                check_file)
from .custom import _decode_line
from .published import (CheckStats, PublishedStatsMixin, SplitStats,
                        check_stats_mode, find_archive_root)

#: The test lists of the paper (small, medium, large) and their ids.
TEST_SIZES = (800, 1600, 2400)
#: A plain image name of a list line: no folder, no ``..``.
_NAME = re.compile(r'[\w][\w.-]*')


@DATASETS.register_module()
class VehicleID(PublishedStatsMixin, BaseReIDDataset):
    """PKU VehicleID in its published layout.

    ::

        data_root/                            # e.g. data/VehicleID_V1.0
        ├── image/                            # 221,567 images
        │   └── 0000001.jpg
        ├── train_test_split/
        │   ├── train_list.txt                # 13,164 ids
        │   ├── test_list_800.txt             # 800 ids (small)
        │   ├── test_list_1600.txt            # 1,600 ids (medium)
        │   └── test_list_2400.txt            # 2,400 ids (large)
        └── attribute/                        # not read

    A list line is ``name vehicle_id``, the image name without its
    ``.jpg`` extension (``0000001 1``; a name that keeps the extension is
    accepted). The ids are checked against the paper (13,164 train ids;
    800 / 1,600 / 2,400 test ids); the image counts of the archive's lists
    differ from the paper's tables, so they are logged, not checked.

    VehicleID has no cameras and no fixed query / gallery split: every
    ``cam_id`` is 0, and the ``'test'`` split is the whole test list, one
    pool of images (``is_query`` False). Its protocol (for every test id
    one random image in the gallery, the others queries, over seeded
    trials, without camera filtering) is the evaluation's:
    :class:`~mmpha.evaluation.VehicleIDMetric`. A ``data_root`` that holds
    the archive's ``VehicleID_V1.0/`` folder is read from that folder.

    Args:
        data_root (str): The folder holding ``image/`` and
            ``train_test_split/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        test_size (int): The test list, 800, 1600 or 2400 ids. Defaults to
            800.
        check_stats (str): ``'warn'``, ``'error'`` or ``'off'``: what to do
            when a split has another number of ids than published (see
            :class:`~mmpha.datasets.OccludedDuke`). Defaults to ``'warn'``.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`BaseReIDDataset`.
    """

    ALLOWED_SPLITS = ('train', 'test')
    LAYOUT = ('data_root/{image/, train_test_split/{train_list.txt, '
              'test_list_800.txt, test_list_1600.txt, test_list_2400.txt}} '
              '(the VehicleID_V1.0/ folder of the archive) with list lines '
              '"0000001 1" (image name without .jpg, vehicle id)')
    PUBLISHED_NAME = 'VehicleID'
    PUBLISHED: Dict[str, SplitStats] = dict(
        train=SplitStats(13164, None),
        **{f'test_{n}': SplitStats(n, None)
           for n in TEST_SIZES})

    def __init__(self,
                 data_root: str,
                 split: Literal['train', 'test'] = 'train',
                 test_size: int = 800,
                 check_stats: CheckStats = 'warn',
                 **kwargs) -> None:
        if split in ('query', 'gallery'):
            raise ValueError(
                f'VehicleID has no fixed {split} split: use split="test" '
                '(the whole test list) with the VehicleIDMetric evaluator, '
                'which draws the gallery of each trial.')
        if isinstance(test_size, bool) or test_size not in TEST_SIZES:
            raise ValueError(
                f'test_size must be one of {TEST_SIZES}, got {test_size!r}.')
        self.check_stats = check_stats_mode(check_stats)
        self.test_size = test_size
        if isinstance(data_root, str) and data_root:
            data_root = find_archive_root(data_root, 'VehicleID_V1.0',
                                          'train_test_split')
        super().__init__(
            data_root=data_root,
            split=split,  # type: ignore[arg-type]
            junk_pids=(-1, ),
            distractor_pids=(),
            pid_range=(0, None),
            cam_base=0,
            num_cameras=1,
            num_views=1,
            **kwargs)

    @property
    def list_file(self) -> str:
        """str: The list file of the split."""
        name = ('train_list.txt' if self.split == 'train' else
                f'test_list_{self.test_size}.txt')
        return osp.join(self.data_root, 'train_test_split', name)

    def describe_source(self) -> str:
        """Return the list file of the split."""
        return self.list_file

    def published_key(self) -> str:
        """Return ``'train'`` or ``'test_<test_size>'``."""
        return ('train' if self.split == 'train' else f'test_{self.test_size}')

    def load_records(self) -> List[RawRecord]:
        """Parse the list file of the split.

        Returns:
            list[RawRecord]: One record a line, in list order.

        Raises:
            ValueError: For a line that is not ``name vehicle_id`` or whose
                name is not a plain file name; the message names the file
                and the line.
        """
        layout = self.layout()
        check_dir(self.data_root, layout, 'dataset root')
        img_dir = osp.join(self.data_root, 'image')
        check_dir(img_dir, layout, 'image folder')
        list_file = self.list_file
        check_file(list_file, layout, f'{self.split} list file')
        records = []
        with open(list_file, 'rb') as f:
            for lineno, raw in enumerate(f, 1):
                fields = _decode_line(raw, lineno, list_file).split()
                if not fields:
                    continue
                pid: Optional[int] = None
                if len(fields) == 2 and _NAME.fullmatch(fields[0]):
                    try:
                        pid = int(fields[1])
                    except ValueError:
                        pass
                if pid is None:
                    raise ValueError(
                        f'Cannot parse line {lineno} of {list_file}: '
                        f'{" ".join(fields)[:80]!r}; expected "name '
                        'vehicle_id" (an image name of image/ without '
                        '.jpg, an integer id).')
                name = fields[0]
                if not name.lower().endswith('.jpg'):
                    name += '.jpg'
                records.append(
                    RawRecord(
                        osp.join(img_dir, name), pid, 0, 0,
                        f'{list_file}:{lineno} ({fields[0]})'))
        return records

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [
            f'test_size: {self.test_size}', f'list: {self.list_file}'
        ]
