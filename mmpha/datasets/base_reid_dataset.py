"""The base class of every mmpha re-ID dataset."""
import os
import os.path as osp
import stat
from typing import (Callable, List, Literal, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

SplitType = Literal['train', 'query', 'gallery']
SPLITS: Tuple[str, ...] = ('train', 'query', 'gallery')
IMG_SUFFIXES: Tuple[str, ...] = ('.jpg', '.jpeg', '.png', '.bmp')


class RawRecord(NamedTuple):
    """One image as read from a layout, before filtering and relabelling.

    Args:
        img_path (str): Path of the image file.
        pid (int): Person id as written in the dataset.
        cam (int): Camera number as written in the dataset (``cam_base``
            is subtracted later).
        view (int): View number as written in the dataset (``view_base``
            is subtracted later); ``view_base`` when there are no views.
        source (str): Where the record came from (a file name, or a list
            file and line), used in error messages.
    """

    img_path: str
    pid: int
    cam: int
    view: int
    source: str


def check_dir(path: str, layout: str, what: str = 'folder') -> None:
    """Raise ``FileNotFoundError`` when ``path`` is not a directory.

    Args:
        path (str): The folder that must exist.
        layout (str): Description of the expected layout, quoted in the
            message.
        what (str): What the folder is, for the message. Defaults to
            ``'folder'``.
    """
    if osp.isdir(path):
        return
    state = ('is not a folder' if osp.lexists(path) else 'does not exist')
    raise FileNotFoundError(
        f'The {what} "{path}" {state}. Expected layout: {layout}')


#: ``stat`` mode tests and the name of each kind of file, for messages.
_FILE_KINDS: Tuple[Tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISREG, 'regular file'),
    (stat.S_ISDIR, 'directory'),
    (stat.S_ISFIFO, 'FIFO (named pipe)'),
    (stat.S_ISCHR, 'character device'),
    (stat.S_ISBLK, 'block device'),
    (stat.S_ISSOCK, 'socket'),
)


def file_kind(mode: int) -> str:
    """Name the kind of file of an ``os.stat`` mode, for messages.

    Args:
        mode (int): ``st_mode`` of :func:`os.stat`.

    Returns:
        str: ``'regular file'``, ``'directory'``, ``'FIFO (named pipe)'``,
        ``'character device'``, ``'block device'``, ``'socket'`` or
        ``'special file'``.
    """
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return 'special file'


def check_file(path: str, layout: str, what: str = 'file') -> None:
    """Raise unless ``path`` is a regular file (symbolic links followed).

    The check uses :func:`os.stat` only, so a FIFO or a device is refused
    without being opened (opening a FIFO would block).

    Args:
        path (str): The file that must exist.
        layout (str): Description of the expected layout.
        what (str): What the file is, for the message. Defaults to
            ``'file'``.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: When it is a directory, FIFO, device or socket.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(
            f'The {what} "{path}" does not exist. Expected layout: {layout}'
        ) from None
    if not stat.S_ISREG(mode):
        raise ValueError(f'The {what} "{path}" is a {file_kind(mode)}, not a '
                         f'regular file. Expected layout: {layout}')


def is_within(path: str, root: str) -> bool:
    """Say whether ``path`` is ``root`` or lies below it.

    Both paths are compared as given: resolve them first (e.g. with
    :func:`os.path.realpath`) to follow ``..`` and symbolic links.

    Args:
        path (str): An absolute path.
        root (str): An absolute folder.

    Returns:
        bool: True when ``path`` is inside ``root``.
    """
    try:
        return osp.commonpath([path, root]) == root
    except ValueError:  # different drives on Windows
        return False


def list_images(folder: str,
                suffixes: Sequence[str] = IMG_SUFFIXES,
                recursive: bool = False) -> List[str]:
    """List image files under ``folder``, sorted for determinism.

    Args:
        folder (str): The folder to scan.
        suffixes (Sequence[str]): Accepted file suffixes, compared
            case-insensitively. Defaults to ``IMG_SUFFIXES``.
        recursive (bool): Whether to descend into sub-folders. Defaults to
            False.

    Returns:
        list[str]: Paths relative to ``folder``, with ``/`` separators. Only
        regular files (or symbolic links to them) are listed: FIFOs, devices
        and sockets are skipped.
    """
    suffixes = tuple(s.lower() for s in suffixes)
    found = []
    if recursive:
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            rel_root = osp.relpath(root, folder)
            for name in files:
                # os.walk lists FIFOs and devices among the files; reading
                # one would block or never end.
                if name.lower().endswith(suffixes) and osp.isfile(
                        osp.join(root, name)):
                    rel = name if rel_root == '.' else osp.join(rel_root, name)
                    found.append(rel.replace(os.sep, '/'))
    else:
        with os.scandir(folder) as entries:
            found = [
                e.name for e in entries
                if e.is_file() and e.name.lower().endswith(suffixes)
            ]
    return sorted(found)


def check_split(split: str) -> None:
    """Raise ``ValueError`` unless ``split`` is one of :data:`SPLITS`.

    Args:
        split (str): The split name to check.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')


def _check_id_set(value: Sequence[int], name: str) -> Tuple[int, ...]:
    """Validate a sequence of integer ids."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f'{name} must be a sequence of int, got {value!r}.')
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f'{name} must contain only int, got {value!r}.')
    return tuple(value)


class GtLabelsMixin:
    """The labels of a re-ID dataset, kept as an array next to the data.

    A dataset class mixes this in before ``BaseDataset``, initialises it
    with :meth:`_init_dataset` and calls :meth:`_set_labels` at the end of
    ``load_data_list``; samplers then read the labels without decoding any
    sample.
    """

    _gt_labels: np.ndarray

    def _init_dataset(self, data_root: str,
                      pipeline: Sequence[Union[dict, Callable]],
                      test_mode: bool, lazy_init: bool, serialize_data: bool,
                      max_refetch: int, metainfo: Optional[Mapping]) -> None:
        """Initialise ``BaseDataset`` for data infos with full image paths.

        There is no annotation file: ``load_data_list`` builds the data
        infos, each with its full ``img_path``. The labels array is empty
        until then.
        """
        self._gt_labels = np.zeros(0, dtype=np.int64)
        super().__init__(  # type: ignore[call-arg]
            ann_file='',
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(img_path=''),
            serialize_data=serialize_data,
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def _set_labels(self, data_list: List[dict]) -> None:
        """Keep the ``gt_label`` of every data info of ``data_list``."""
        self._gt_labels = np.array([d['gt_label'] for d in data_list],
                                   dtype=np.int64)

    def get_gt_labels(self) -> np.ndarray:
        """Return the ``gt_label`` of every sample without decoding them.

        Returns:
            numpy.ndarray: ``(N, )`` int64 labels, N the dataset length.
        """
        if not self._fully_initialized:  # type: ignore[attr-defined]
            self.full_init()  # type: ignore[attr-defined]
        return self._gt_labels.copy()

    def get_cat_ids(self, idx: int) -> List[int]:
        """Return the identity of sample ``idx`` as a one-element list.

        Args:
            idx (int): Sample index.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [int(self.get_gt_labels()[idx])]


class BaseReIDDataset(GtLabelsMixin, BaseDataset):
    """Base class of re-ID datasets: one split of query, gallery or train.

    A subclass reads its layout in :meth:`load_records`; this class filters
    junk and distractors, validates the ranges, relabels the training ids and
    builds the data list. Each data info is a dict with ``img_path`` (str),
    ``gt_label`` (int), ``cam_id`` (int, 0-based), ``view_id`` (int, 0-based)
    and ``is_query`` (bool).

    Identities:

    - ``train``: ``gt_label`` is the raw id relabelled to ``0..P-1`` in
      ascending order of the raw ids (P training identities), so the order
      does not depend on the file system.
    - ``query`` / ``gallery``: ``gt_label`` is the raw id. Ids in
      ``junk_pids`` are dropped from every split; ids in ``distractor_pids``
      are kept in the gallery only (they match no query) and dropped
      elsewhere.

    Meta information (``dataset.metainfo``, filled when the data list is
    loaded, i.e. after ``full_init()`` when ``lazy_init=True``):

    - ``split`` (str): the split.
    - ``num_classes`` (int): the number of distinct identities of *this*
      split, distractors included. For the train split it is the size of the
      classifier; a model config states it explicitly anyway.
    - ``num_cameras`` (int): cameras of the dataset (a constant of the layout
      when known, else the largest camera index of the split + 1); the size
      of the side-information camera embedding.
    - ``num_views`` (int): views, 1 when the dataset has none.
    - ``num_images`` (int): images in the split.

    Args:
        data_root (str): Root folder of the dataset.
        split (str): One of ``'train'``, ``'query'``, ``'gallery'``.
            Defaults to ``'train'``.
        pipeline (Sequence[dict | Callable]): Transforms applied to each
            sample. Defaults to ``()``.
        test_mode (bool, optional): mmengine's test mode (no re-fetch of a
            failed sample). None means ``split != 'train'``. Defaults to
            None.
        lazy_init (bool): Defer reading the layout until ``full_init()``.
            Defaults to False.
        serialize_data (bool): Keep the data list as one numpy buffer shared
            by dataloader workers. Defaults to True.
        max_refetch (int): Re-fetch attempts when the pipeline returns None
            in train mode. Defaults to 1000.
        metainfo (Mapping, optional): Extra meta information. Defaults to
            None.
        junk_pids (Sequence[int]): Ids dropped from every split. Defaults to
            ``()``.
        distractor_pids (Sequence[int]): Ids kept in the gallery only.
            Defaults to ``()``.
        pid_range (tuple[int, int | None]): Inclusive range of valid raw ids
            (junk and distractor ids excepted); None means unbounded above.
            Defaults to ``(0, None)``.
        cam_base (int): Number of the first camera in the layout; the
            0-based ``cam_id`` is ``camera - cam_base``. Defaults to 0.
        num_cameras (int, optional): Number of cameras; cameras outside
            ``[cam_base, cam_base + num_cameras)`` are errors. None infers it
            from the split. Defaults to None.
        view_base (int): Number of the first view. Defaults to 0.
        num_views (int, optional): Number of views; None infers it.
            Defaults to None.
    """

    #: A one-line description of the folder layout, quoted in errors.
    LAYOUT: str = ''
    #: The splits a dataset class reads (VehicleID: ``train`` and ``test``).
    ALLOWED_SPLITS: Tuple[str, ...] = SPLITS

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: Optional[bool] = None,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 metainfo: Optional[Mapping] = None,
                 junk_pids: Sequence[int] = (),
                 distractor_pids: Sequence[int] = (),
                 pid_range: Tuple[int, Optional[int]] = (0, None),
                 cam_base: int = 0,
                 num_cameras: Optional[int] = None,
                 view_base: int = 0,
                 num_views: Optional[int] = None) -> None:
        if split not in self.ALLOWED_SPLITS:
            raise ValueError(f'split must be one of {self.ALLOWED_SPLITS}, '
                             f'got {split!r}.')
        if not isinstance(data_root, (str, os.PathLike)) or not str(data_root):
            raise TypeError('data_root must be a non-empty path, got '
                            f'{data_root!r}.')
        if not (isinstance(pid_range, Sequence) and len(pid_range) == 2
                and isinstance(pid_range[0], int) and
                (pid_range[1] is None or isinstance(pid_range[1], int))):
            raise TypeError('pid_range must be (int, int | None), got '
                            f'{pid_range!r}.')
        if pid_range[1] is not None and pid_range[1] < pid_range[0]:
            raise ValueError(f'pid_range {pid_range} is empty.')
        for name, value in (('num_cameras', num_cameras), ('num_views',
                                                           num_views)):
            if value is not None and (isinstance(value, bool) or
                                      not isinstance(value, int) or value < 1):
                raise ValueError(f'{name} must be a positive int or None, '
                                 f'got {value!r}.')
        for name, value in (('cam_base', cam_base), ('view_base', view_base)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f'{name} must be an int, got {value!r}.')
        self.split = split
        self.junk_pids = frozenset(_check_id_set(junk_pids, 'junk_pids'))
        self.distractor_pids = frozenset(
            _check_id_set(distractor_pids, 'distractor_pids'))
        self.pid_range = tuple(pid_range)
        self.cam_base = cam_base
        self.num_cameras = num_cameras
        self.view_base = view_base
        self.num_views = num_views
        self.pid_to_label: dict = {}
        if test_mode is None:
            test_mode = split != 'train'
        self._init_dataset(
            str(data_root), pipeline, test_mode, lazy_init, serialize_data,
            max_refetch, metainfo)

    @property
    def name(self) -> str:
        """str: The class name, used in messages."""
        return type(self).__name__

    def load_records(self) -> List[RawRecord]:
        """Read the layout of :attr:`split`.

        Returns:
            list[RawRecord]: Every image of the split in a deterministic
            order, junk included (it is filtered by :meth:`load_data_list`).
        """
        raise NotImplementedError(
            f'{self.name} must implement load_records().')

    def layout(self) -> str:
        """Describe the expected layout, quoted in errors.

        Returns:
            str: :attr:`LAYOUT` unless a subclass builds it.
        """
        return self.LAYOUT

    def describe_source(self) -> str:
        """Say where the images of :attr:`split` are read from.

        Returns:
            str: A folder or list file, quoted in the empty-split error.
        """
        return self.data_root

    def load_data_list(self) -> List[dict]:
        """Read, filter, validate and relabel the images of the split.

        Returns:
            list[dict]: The data infos.

        Raises:
            ValueError: When the split is empty, or an id, camera or view is
                out of range (the message names the file).
        """
        records = self.load_records()
        lo, hi = self.pid_range
        kept: List[Tuple[str, int, int, int]] = []
        num_junk = num_dropped_distractors = 0
        for rec in records:
            if rec.pid in self.junk_pids:
                num_junk += 1
                continue
            if rec.pid in self.distractor_pids:
                if self.split != 'gallery':
                    num_dropped_distractors += 1
                    continue
            elif rec.pid < lo or (hi is not None and rec.pid > hi):
                upper = 'inf' if hi is None else hi
                raise ValueError(
                    f'{self.name}: person id {rec.pid} of {rec.source} is '
                    f'out of the valid range [{lo}, {upper}].')
            cam_id = rec.cam - self.cam_base
            if cam_id < 0 or (self.num_cameras is not None
                              and cam_id >= self.num_cameras):
                upper = ('inf' if self.num_cameras is None else self.cam_base +
                         self.num_cameras - 1)
                raise ValueError(
                    f'{self.name}: camera {rec.cam} of {rec.source} is out '
                    f'of the valid range [{self.cam_base}, {upper}].')
            view_id = rec.view - self.view_base
            if view_id < 0 or (self.num_views is not None
                               and view_id >= self.num_views):
                upper = ('inf' if self.num_views is None else self.view_base +
                         self.num_views - 1)
                raise ValueError(
                    f'{self.name}: view {rec.view} of {rec.source} is out '
                    f'of the valid range [{self.view_base}, {upper}].')
            kept.append((rec.img_path, rec.pid, cam_id, view_id))
        if not kept:
            raise ValueError(
                f'{self.name}: the "{self.split}" split is empty: no usable '
                f'image in {self.describe_source()} ({len(records)} found, '
                f'{num_junk} junk, {num_dropped_distractors} distractors '
                'dropped).')
        if num_junk or num_dropped_distractors:
            print_log(
                f'{self.name} {self.split}: dropped {num_junk} junk images '
                f'and {num_dropped_distractors} distractor images.',
                logger='current')

        pids = sorted({pid for _, pid, _, _ in kept})
        if self.split == 'train':
            self.pid_to_label = {pid: i for i, pid in enumerate(pids)}
        is_query = self.split == 'query'
        data_list = []
        for img_path, pid, cam_id, view_id in kept:
            label = self.pid_to_label[pid] if self.split == 'train' else pid
            data_list.append(
                dict(
                    img_path=img_path,
                    gt_label=label,
                    cam_id=cam_id,
                    view_id=view_id,
                    is_query=is_query))
        self._set_labels(data_list)
        cams = max(d['cam_id'] for d in data_list) + 1
        views = max(d['view_id'] for d in data_list) + 1
        self._metainfo.update(
            split=self.split,
            num_classes=len(pids),
            num_cameras=self.num_cameras or cams,
            num_views=self.num_views or views,
            num_images=len(data_list))
        return data_list

    def extra_repr(self) -> List[str]:
        """Return lines describing the split, used by ``__repr__``."""
        return [f'split: {self.split}', f'data_root: {self.data_root}']

    def __repr__(self) -> str:
        """Print the dataset with its split and sizes."""
        lines = [f'Dataset {self.name}'] + self.extra_repr()
        if self._fully_initialized:
            meta = self._metainfo
            lines += [
                f'images: {len(self)}', f'identities: {meta["num_classes"]}',
                f'cameras: {meta["num_cameras"]}'
            ]
        else:
            lines.append('(not loaded yet: lazy_init)')
        return '\n    '.join(lines)
