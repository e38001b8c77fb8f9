"""VeRi-776 (Liu et al., ICME 2016 / ECCV 2016), with TransReID's view
labels."""
import logging
import os.path as osp
from typing import Dict, List, Literal, Mapping, Optional, Union

from mmengine.logging import print_log

from mmpha.registry import DATASETS
from .base_reid_dataset import RawRecord, SplitType, check_file
from .custom import ReIDFolderDataset, _decode_line
from .published import (CheckStats, PublishedStatsMixin, SplitStats,
                        check_stats_mode, find_archive_root)

#: The folders of the VeRi-776 archive.
VERI_SPLIT_DIRS: Dict[str, str] = dict(
    train='image_train', query='image_query', gallery='image_test')
#: Where the view files are by default, relative to ``data_root``.
VERI_VIEW_FILES: Dict[str, str] = dict(
    train='keypoint_train.txt', test='keypoint_test.txt')
#: Orientation classes of the VeRi keypoint annotations.
VERI_NUM_VIEWS = 8
MISSING_VIEW = ('error', 'skip')


def read_view_file(path: str) -> Dict[str, int]:
    """Read a view (orientation) file: image name -> view id.

    Each non-blank line is white-space separated; the first token is the
    image (its directory part, if any, is ignored: the files written for
    VeRi-776 name images as ``VeRi/image_train/0001_c001_00016450_0.jpg``)
    and the last token is the view id. The tokens between (the keypoint
    coordinates) are not read.

    Args:
        path (str): The view file.

    Returns:
        dict[str, int]: View id of every image base name.

    Raises:
        ValueError: For a line with fewer than two tokens or a last token
            that is not an integer; the message names the file and the
            line. An image listed twice with two views keeps the last one
            (as in TransReID), with a warning.
    """
    views: Dict[str, int] = {}
    conflicts: List[str] = []
    with open(path, 'rb') as f:
        for lineno, raw in enumerate(f, 1):
            tokens = _decode_line(raw, lineno, path).split()
            if not tokens:
                continue
            try:
                if len(tokens) < 2:
                    raise ValueError
                view = int(tokens[-1])
            except ValueError:
                raise ValueError(
                    f'Cannot parse line {lineno} of the view file {path}: '
                    f'{" ".join(tokens)[:80]!r}; expected "image ... view" '
                    'with an integer view id last.') from None
            name = tokens[0].replace('\\', '/').rsplit('/', 1)[-1]
            if views.get(name, view) != view:
                conflicts.append(f'{name} (line {lineno})')
            views[name] = view
    if conflicts:
        print_log(
            f'The view file {path} gives {len(conflicts)} images a second, '
            f'different view, e.g. {conflicts[0]}; the last line of each '
            'is used, as TransReID does.',
            logger='current',
            level=logging.WARNING)
    return views


@DATASETS.register_module()
class VeRi776(PublishedStatsMixin, ReIDFolderDataset):
    """VeRi-776 vehicle re-ID in its published layout.

    ::

        data_root/                            # e.g. data/VeRi
        ├── image_train/                      # 37,778 images, 576 ids
        │   └── 0001_c001_00016450_0.jpg      # vehicle 0001, camera 1
        ├── image_query/                      # 1,678 images, 200 ids
        ├── image_test/                       # 11,579 images, 200 ids
        ├── keypoint_train.txt                # views of image_train
        └── keypoint_test.txt                 # views of image_query/test

    File names are ``VVVV_cCCC_FFFFFFFF_B.jpg``: vehicle id (1..776),
    camera ``c001``..``c020`` (0-based ``cam_id`` 0..19), frame, box. Id
    ``-1`` is dropped as junk; files that are not ``.jpg`` (the archive's
    lists and XML files live next to the folders) are ignored. Evaluation
    follows the Market-1501 protocol (gallery images of the query's id and
    camera removed).

    **Views.** TransReID's SIE uses the orientation labels of the VeRi
    keypoint annotations (Wang et al., ICCV 2017): ``keypoint_train.txt``
    for the train split, ``keypoint_test.txt`` for query and gallery, one
    line per image, ``image x1 y1 ... x20 y20 view`` with the view
    (0..7) last. TransReID reads them from its own ``datasets/`` folder;
    mmpha reads them from ``data_root`` by default, from ``keypoint_dir``
    when it is set, or from the files of ``view_file`` (relative paths are
    relative to ``data_root``). An image is looked up in its split's file
    first, then in the other one, as TransReID does. An image in neither
    is an error naming the image and the files (``missing_view='skip'``
    drops such images instead, as TransReID does, and logs how many).

    Which files are read:

    - ``view_file=dict(train=..., test=...)`` or ``keypoint_dir``: those;
      the split's own file must exist.
    - ``view_file='auto'`` (the default): ``data_root/keypoint_train.txt``
      and ``data_root/keypoint_test.txt`` when either exists; when neither
      does, no view is read and a warning says so. The dataset config
      states the files, so that a model with view SIE never trains on
      missing views.
    - ``view_file=None``: no view is read.

    Without views every ``view_id`` is 0 and ``num_views`` is 1.

    Args:
        data_root (str): The folder holding the image folders (a folder
            holding the archive's ``VeRi/`` folder is read from that
            folder).
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        view_file (str | Mapping[str, str], optional): ``'auto'``, the
            view files ``dict(train=..., test=...)`` (relative to
            ``data_root`` unless absolute), or None (no views). Defaults to
            ``'auto'``.
        keypoint_dir (str, optional): A folder holding
            ``keypoint_train.txt`` and ``keypoint_test.txt`` (relative to
            ``data_root`` unless absolute), e.g. TransReID's ``datasets/``
            folder; only with ``view_file='auto'``. Defaults to None.
        missing_view (str): ``'error'`` or ``'skip'``: what to do with an
            image that no view file lists. Defaults to ``'error'``.
        num_cameras (int, optional): Overrides the 20 cameras. Defaults to
            20.
        num_views (int, optional): Overrides the 8 views. Defaults to 8.
        check_stats (str): ``'warn'``, ``'error'`` or ``'off'``: what to do
            when a split differs from the published numbers (see
            :class:`~mmpha.datasets.OccludedDuke`). Defaults to ``'warn'``.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{image_train,image_query,image_test}/ (the VeRi/ '
              'folder of the archive) with files named like '
              '0001_c001_00016450_0.jpg (vid_cCCC_frame_box), and the view '
              'files keypoint_train.txt, keypoint_test.txt')
    PUBLISHED_NAME = 'VeRi-776'
    PUBLISHED = dict(
        train=SplitStats(576, 37778),
        query=SplitStats(200, 1678),
        gallery=SplitStats(200, 11579))

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 view_file: Union[str, Mapping[str, str], None] = 'auto',
                 keypoint_dir: Optional[str] = None,
                 missing_view: Literal['error', 'skip'] = 'error',
                 num_cameras: Optional[int] = 20,
                 num_views: Optional[int] = VERI_NUM_VIEWS,
                 check_stats: CheckStats = 'warn',
                 **kwargs) -> None:
        self.check_stats = check_stats_mode(check_stats)
        if not (view_file is None or view_file == 'auto' or
                (isinstance(view_file, Mapping)
                 and set(view_file) == {'train', 'test'}
                 and all(isinstance(v, str) and v
                         for v in view_file.values()))):
            raise ValueError(
                'view_file must be "auto", None or dict(train=PATH, '
                f'test=PATH) (paths relative to data_root), got '
                f'{view_file!r}.')
        if keypoint_dir is not None and (view_file != 'auto'
                                         or not isinstance(keypoint_dir, str)):
            raise ValueError(
                'keypoint_dir (a folder path) goes with view_file="auto", '
                f'got keypoint_dir={keypoint_dir!r}, view_file='
                f'{view_file!r}.')
        if missing_view not in MISSING_VIEW:
            raise ValueError(f'missing_view must be one of {MISSING_VIEW}, '
                             f'got {missing_view!r}.')
        if isinstance(data_root, str) and data_root:
            data_root = find_archive_root(data_root, 'VeRi', 'image_train')
        self.view_file = self._resolve_view_file(
            str(data_root), view_file, keypoint_dir)
        self.missing_view = missing_view
        super().__init__(
            data_root=data_root,
            split=split,
            split_dirs=VERI_SPLIT_DIRS,
            suffixes=('.jpg', ),
            num_cameras=num_cameras,
            num_views=num_views if self.view_file is not None else 1,
            pid_range=(0, 776),
            **kwargs)

    @staticmethod
    def _resolve_view_file(data_root: str, view_file: Union[str, Mapping,
                                                            None],
                           keypoint_dir: Optional[str]) -> Optional[dict]:
        """The view files to read, or None (see the class documentation)."""
        if view_file is None:
            return None
        if view_file != 'auto':
            return dict(view_file)  # type: ignore[arg-type]
        files = dict(VERI_VIEW_FILES)
        if keypoint_dir is not None:
            return {k: osp.join(keypoint_dir, v) for k, v in files.items()}
        if any(osp.exists(osp.join(data_root, v)) for v in files.values()):
            return files
        print_log(
            f'VeRi776: no view file ({" or ".join(files.values())}) in '
            f'{data_root}: every view_id is 0. Set view_file or keypoint_dir '
            'to read the views (TransReID keeps the files in its datasets/ '
            'folder), or view_file=None to silence this warning.',
            logger='current',
            level=logging.WARNING)
        return None

    def view_files(self) -> List[str]:
        """Return the view files of the split: its own, then the other.

        Returns:
            list[str]: Paths (``data_root`` joined); empty without views.
        """
        if self.view_file is None:
            return []
        own = 'train' if self.split == 'train' else 'test'
        other = 'test' if own == 'train' else 'train'
        return [
            osp.join(self.data_root, self.view_file[k]) for k in (own, other)
        ]

    def load_records(self) -> List[RawRecord]:
        """Scan the split folder, then read the view of every image.

        Returns:
            list[RawRecord]: One record per image with a view (all of them
            unless ``missing_view='skip'``), sorted by name.

        Raises:
            FileNotFoundError: When the split's own view file is missing.
            ValueError: When an image is in no view file (with
                ``missing_view='error'``), or a view file is malformed.
        """
        records = super().load_records()
        files = self.view_files()
        if not files:
            return records
        check_file(files[0], self.layout(), f'{self.split} view file')
        tables = [read_view_file(files[0])]
        records_out, missing = [], []
        for rec in records:
            name = osp.basename(rec.img_path)
            view = tables[0].get(name)
            if view is None and len(tables) == 1 and osp.isfile(files[1]):
                tables.append(read_view_file(files[1]))
            if view is None and len(tables) == 2:
                view = tables[1].get(name)
            if view is None:
                missing.append(rec.img_path)
                continue
            records_out.append(
                rec._replace(
                    view=view,
                    source=f'{rec.source} (view from '
                    f'{files[0] if name in tables[0] else files[1]}'
                    ')'))
        if missing and self.missing_view == 'error':
            searched = ' nor in '.join(f'"{f}"' for f in files[:len(tables)]
                                       if osp.isfile(f))
            raise ValueError(
                f'{self.name}: the image "{missing[0]}" has no view label in '
                f'{searched} ({len(missing)} images of the {self.split} split '
                'have none). Set view_file to the keypoint files of your '
                'copy, missing_view="skip" to drop such images, or '
                'view_file=None to train without views.')
        if missing:
            print_log(
                f'{self.name} {self.split}: dropped {len(missing)} images '
                'without a view label (missing_view="skip").',
                logger='current')
        return records_out

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [f'view files: {self.view_files()}']


#: ``VeRi`` is the name of the archive's folder and of TransReID's loader.
DATASETS.register_module(name='VeRi', module=VeRi776)
VeRi = VeRi776
