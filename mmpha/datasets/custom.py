"""Datasets for custom data: list files, or folders with parsable names."""
import codecs
import os
import os.path as osp
import re
import stat
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from mmpha.registry import DATASETS
from .base_reid_dataset import (IMG_SUFFIXES, BaseReIDDataset, RawRecord,
                                SplitType, check_dir, check_file, check_split,
                                file_kind, is_within, list_images)

#: The folders of the Market-1501 layout, shared by several datasets.
MARKET_SPLIT_DIRS: Dict[str, str] = dict(
    train='bounding_box_train', query='query', gallery='bounding_box_test')
#: ``PPPP_cC...``: a (possibly negative) person id, then ``_c`` and the
#: camera, as in Market-1501, DukeMTMC-reID and CUHK03-NP.
MARKET_PATTERN = r'(?P<pid>-?\d+)_c(?P<cam>\d+)'


@DATASETS.register_module()
class ReIDListDataset(BaseReIDDataset):
    """A split listed in a text file: one ``path pid camid [viewid]`` a line.

    Lines are split on white space, so paths must not contain spaces. Blank
    lines and lines starting with ``#`` are ignored. ``path`` is relative to
    ``data_root/data_prefix``. One list file per split::

        data_root/
        ├── images/...
        ├── train.txt    # images/0001/a.jpg 1 0
        ├── query.txt
        └── gallery.txt

    A list file is data, not configuration, so its entries are checked
    (see :func:`check_list_entry`): each must resolve, after ``..``,
    absolute paths and symbolic links, inside ``data_root`` or the image
    folder, unless ``allow_outside_root=True``; directories, FIFOs and
    devices are refused. The file is read as UTF-8 (a byte-order mark is
    ignored); another encoding is an error naming the line.

    Args:
        data_root (str): Root folder of the dataset.
        ann_file (str): The list file of this split, relative to
            ``data_root`` unless absolute.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        data_prefix (str): Folder of the images, relative to ``data_root``
            unless absolute. Defaults to ``''``.
        cam_base (int): Number of the first camera in the file. Defaults to
            0.
        num_cameras (int, optional): Number of cameras. None infers it from
            the split. Defaults to None.
        view_base (int): Number of the first view. Defaults to 0.
        num_views (int, optional): Number of views. None infers it.
            Defaults to None.
        junk_pids (Sequence[int]): Ids dropped everywhere. Defaults to
            ``()``.
        distractor_pids (Sequence[int]): Ids kept in the gallery only.
            Defaults to ``()``.
        pid_range (tuple[int, int | None]): Valid raw ids. Defaults to
            ``(0, None)``.
        allow_outside_root (bool): Accept list entries that resolve
            outside ``data_root`` and ``data_root/data_prefix``. Defaults
            to False.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`BaseReIDDataset`.
    """

    LAYOUT = ('data_root/<ann_file> with one "path pid camid [viewid]" per '
              'line, paths relative to data_root/<data_prefix>')

    def __init__(self,
                 data_root: str,
                 ann_file: str,
                 split: SplitType = 'train',
                 data_prefix: str = '',
                 cam_base: int = 0,
                 num_cameras: Optional[int] = None,
                 view_base: int = 0,
                 num_views: Optional[int] = None,
                 junk_pids: Sequence[int] = (),
                 distractor_pids: Sequence[int] = (),
                 pid_range: Tuple[int, Optional[int]] = (0, None),
                 allow_outside_root: bool = False,
                 **kwargs) -> None:
        if not isinstance(ann_file, str) or not ann_file:
            raise TypeError('ann_file must be a non-empty str, got '
                            f'{ann_file!r}.')
        if not isinstance(data_prefix, str):
            raise TypeError(f'data_prefix must be a str, got {data_prefix!r}.')
        if not isinstance(allow_outside_root, bool):
            raise TypeError('allow_outside_root must be a bool, got '
                            f'{allow_outside_root!r}.')
        self.allow_outside_root = allow_outside_root
        self.list_file = osp.join(str(data_root), ann_file)
        self.img_dir = osp.join(str(data_root), data_prefix)
        super().__init__(
            data_root=data_root,
            split=split,
            junk_pids=junk_pids,
            distractor_pids=distractor_pids,
            pid_range=pid_range,
            cam_base=cam_base,
            num_cameras=num_cameras,
            view_base=view_base,
            num_views=num_views,
            **kwargs)

    def describe_source(self) -> str:
        """Return the list file of the split."""
        return self.list_file

    def load_records(self) -> List[RawRecord]:
        """Parse the list file.

        Returns:
            list[RawRecord]: One record a line, in file order.
        """
        check_dir(self.data_root, self.layout(), 'dataset root')
        check_file(self.list_file, self.layout(), f'{self.split} list file')
        return parse_list_file(
            self.list_file,
            self.img_dir,
            self.view_base,
            data_root=self.data_root,
            allow_outside_root=self.allow_outside_root)


def _decode_line(raw: bytes, lineno: int, list_file: str) -> str:
    """Decode one line of a list file as UTF-8 (a leading BOM removed)."""
    if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as e:
        raise ValueError(
            f'Line {lineno} of {list_file} is not valid UTF-8 (byte '
            f'0x{raw[e.start]:02x} at byte {e.start + 1} of the line): '
            'save the list file as UTF-8.') from None


def check_list_entry(path: str,
                     roots: Sequence[str],
                     where: str,
                     allow_outside_root: bool = False) -> None:
    """Refuse a list-file entry that escapes the dataset or is no file.

    The entry is resolved with :func:`os.path.realpath` (``..``, absolute
    paths and symbolic links followed) and must lie inside one of
    ``roots``, themselves resolved, unless ``allow_outside_root``. It is
    then checked with :func:`os.stat` only (never opened): a directory,
    FIFO, device or socket is refused. A missing file passes, so that the
    image loader reports it (or skips it) like any other unreadable image.

    Args:
        path (str): The image path of the entry (folder joined).
        roots (Sequence[str]): The folders the entry may resolve into.
        where (str): ``'Line N of FILE'``, quoted in the messages.
        allow_outside_root (bool): Skip the containment check. Defaults to
            False.

    Raises:
        ValueError: When the entry resolves outside every root, or is not
            a regular file.
    """
    _check_entry(path, [osp.realpath(r) for r in roots], where,
                 allow_outside_root, {})


def _check_entry(path: str, real_roots: Sequence[str], where: str,
                 allow_outside_root: bool,
                 folders: Dict[str, Tuple[str, bool]]) -> None:
    """:func:`check_list_entry` with the roots already resolved.

    ``folders`` caches, for each folder of the entries, its resolved path
    and whether it lies inside a root: the entries of a list share few
    folders, so most entries cost one ``lstat``.
    """
    folder, name = osp.split(path)
    if folder not in folders:
        real_folder = osp.realpath(folder)
        folders[folder] = (real_folder,
                           any(is_within(real_folder, r) for r in real_roots))
    real_folder, inside = folders[folder]
    real = osp.join(real_folder, name)
    try:
        mode: Optional[int] = os.lstat(real).st_mode
    except FileNotFoundError:
        mode = None  # missing: reported (or skipped) by the loader
    if name in ('', '.', '..') or (mode is not None and stat.S_ISLNK(mode)):
        # Not a plain name in its folder: resolve the whole path.
        real = osp.realpath(path)
        inside = any(is_within(real, r) for r in real_roots)
        try:
            mode = os.stat(real).st_mode
        except FileNotFoundError:
            mode = None
    if not (inside or allow_outside_root):
        # Name only the outermost roots: the image folder is usually inside
        # data_root.
        shown = [
            r for r in dict.fromkeys(real_roots)
            if not any(o != r and is_within(r, o) for o in real_roots)
        ]
        named = ' and '.join(f'"{r}"' for r in shown)
        raise ValueError(
            f'{where}: "{path}" resolves to "{real}", outside the dataset '
            f'root {named}. Set allow_outside_root=True in the dataset '
            'config to read images outside it.')
    if mode is not None and not stat.S_ISREG(mode):
        raise ValueError(f'{where}: "{path}" is a {file_kind(mode)}, not a '
                         'regular image file.')


def parse_list_file(list_file: str,
                    img_dir: str,
                    default_view: int = 0,
                    cam_from_name: Optional[Callable[[str], int]] = None,
                    data_root: Optional[str] = None,
                    allow_outside_root: bool = False) -> List[RawRecord]:
    """Parse ``path pid camid [viewid]`` lines (or ``path pid``).

    The file is read as UTF-8; a leading byte-order mark is ignored. Every
    entry is checked by :func:`check_list_entry`: it must resolve inside
    ``img_dir`` or ``data_root`` and must not be a directory, FIFO or
    device.

    Args:
        list_file (str): The list file.
        img_dir (str): Folder the paths are relative to.
        default_view (int): View number when the line has none. Defaults
            to 0.
        cam_from_name (Callable[[str], int], optional): When given, lines
            are ``path pid`` and the camera is ``cam_from_name(path)``
            (which raises ``ValueError`` for a bad name). Defaults to None.
        data_root (str, optional): The dataset root; entries may resolve
            inside it as well as inside ``img_dir``. Defaults to None.
        allow_outside_root (bool): Accept entries that resolve outside
            ``img_dir`` and ``data_root``. Defaults to False.

    Returns:
        list[RawRecord]: One record a line.

    Raises:
        ValueError: For a malformed line, a line that is not UTF-8, or an
            entry refused by :func:`check_list_entry`; the message names
            the file, the line number and what was expected.
    """
    expected = '"path pid"' if cam_from_name else '"path pid camid [viewid]"'
    num_fields = (2, ) if cam_from_name else (3, 4)
    # Resolved once: a list can have 100,000 lines.
    real_roots = [
        osp.realpath(r)
        for r in [img_dir] + ([data_root] if data_root is not None else [])
    ]
    folders: Dict[str, Tuple[str, bool]] = {}
    records = []
    # Binary lines, decoded one by one, so that a decoding error names its
    # line; a text-mode reader fails on a whole buffer.
    with open(list_file, 'rb') as f:
        for lineno, raw in enumerate(f, 1):
            line = _decode_line(raw, lineno, list_file).strip()
            if not line or line.startswith('#'):
                continue
            fields = line.split()
            source = f'{list_file}:{lineno} ({fields[0]})'
            try:
                if len(fields) not in num_fields:
                    raise ValueError
                pid = int(fields[1])
                view = default_view
                if cam_from_name is None:
                    cam = int(fields[2])
                    if len(fields) == 4:
                        view = int(fields[3])
            except ValueError:
                raise ValueError(f'Cannot parse line {lineno} of {list_file}: '
                                 f'{line!r}; expected {expected} with '
                                 'integer ids.') from None
            if cam_from_name is not None:
                try:
                    cam = cam_from_name(fields[0])
                except ValueError as e:
                    raise ValueError(
                        f'Line {lineno} of {list_file}: {e}') from None
            img_path = osp.join(img_dir, fields[0])
            _check_entry(img_path, real_roots, f'Line {lineno} of {list_file}',
                         allow_outside_root, folders)
            records.append(RawRecord(img_path, pid, cam, view, source))
    return records


@DATASETS.register_module()
class ReIDFolderDataset(BaseReIDDataset):
    """One folder per split; id, camera (and view) parsed from file names.

    The default is the Market-1501 layout and naming::

        data_root/
        ├── bounding_box_train/0002_c1s1_000451_03.jpg ...
        ├── query/
        └── bounding_box_test/

    ``pattern`` is matched at the start of each file name (``re.match`` on
    the base name). It has the named groups ``pid`` and ``cam`` and
    optionally ``view``; without named groups, the first two groups are
    ``pid`` and ``cam``.

    Args:
        data_root (str): Root folder of the dataset.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        split_dirs (Mapping[str, str]): Folder of each split, relative to
            ``data_root``. Defaults to the Market-1501 folders.
        pattern (str): Regular expression of the file names. Defaults to
            ``MARKET_PATTERN``, ``(?P<pid>-?\\d+)_c(?P<cam>\\d+)``.
        suffixes (Sequence[str]): Image suffixes. Defaults to
            ``('.jpg', '.jpeg', '.png', '.bmp')``.
        recursive (bool): Also scan sub-folders. Defaults to False.
        cam_base (int): Number of the first camera in the names. Defaults
            to 1.
        num_cameras (int, optional): Number of cameras; None infers it.
            Defaults to None.
        view_base (int): Number of the first view. Defaults to 0.
        num_views (int, optional): Number of views; None infers it.
            Defaults to None.
        junk_pids (Sequence[int]): Ids dropped everywhere. Defaults to
            ``(-1, )``.
        distractor_pids (Sequence[int]): Ids kept in the gallery only.
            Defaults to ``()``.
        pid_range (tuple[int, int | None]): Valid raw ids. Defaults to
            ``(0, None)``.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`BaseReIDDataset`.
    """

    def __init__(self,
                 data_root: str,
                 split: SplitType = 'train',
                 split_dirs: Mapping[str, str] = MARKET_SPLIT_DIRS,
                 pattern: str = MARKET_PATTERN,
                 suffixes: Sequence[str] = IMG_SUFFIXES,
                 recursive: bool = False,
                 cam_base: int = 1,
                 num_cameras: Optional[int] = None,
                 view_base: int = 0,
                 num_views: Optional[int] = None,
                 junk_pids: Sequence[int] = (-1, ),
                 distractor_pids: Sequence[int] = (),
                 pid_range: Tuple[int, Optional[int]] = (0, None),
                 **kwargs) -> None:
        check_split(split)
        if not isinstance(split_dirs, Mapping) or split not in split_dirs:
            raise ValueError(f'split_dirs must map "{split}" to a folder, got '
                             f'{split_dirs!r}.')
        try:
            regex = re.compile(pattern)
        except (re.error, TypeError) as e:
            raise ValueError(
                f'pattern {pattern!r} is not a valid regular expression: {e}'
            ) from None
        names = regex.groupindex
        if names and not {'pid', 'cam'} <= set(names):
            raise ValueError(f'pattern {pattern!r} must have the named groups '
                             '"pid" and "cam" (and optionally "view").')
        if not names and regex.groups < 2:
            raise ValueError(f'pattern {pattern!r} needs two groups: the '
                             'person id, then the camera.')
        if isinstance(suffixes, str) or not suffixes:
            raise ValueError('suffixes must be a non-empty sequence of str, '
                             f'got {suffixes!r}.')
        self.split_dirs = dict(split_dirs)
        self.pattern = pattern
        self.regex = regex
        self.suffixes = tuple(suffixes)
        self.recursive = recursive
        super().__init__(
            data_root=data_root,
            split=split,
            junk_pids=junk_pids,
            distractor_pids=distractor_pids,
            pid_range=pid_range,
            cam_base=cam_base,
            num_cameras=num_cameras,
            view_base=view_base,
            num_views=num_views,
            **kwargs)

    def layout(self) -> str:
        """Describe the expected layout, built from ``split_dirs``.

        Returns:
            str: The description quoted in errors: :attr:`LAYOUT` when the
            class sets it, else built from ``split_dirs`` and ``pattern``.
        """
        if self.LAYOUT:
            return self.LAYOUT
        dirs = ', '.join(f'{v}/ ({k})' for k, v in self.split_dirs.items())
        return (f'data_root/{{{dirs}}} with image files ({self.suffixes}) '
                f'named to match "{self.pattern}"')

    @property
    def split_dir(self) -> str:
        """str: The folder of :attr:`split`."""
        return osp.join(self.data_root, self.split_dirs[self.split])

    def describe_source(self) -> str:
        """Return the folder of the split."""
        return self.split_dir

    def parse_name(self, name: str) -> Tuple[int, int, int]:
        """Parse one file name.

        Args:
            name (str): Path relative to the split folder.

        Returns:
            tuple[int, int, int]: Raw ``(pid, camera, view)``.

        Raises:
            ValueError: When the name does not match ``pattern``.
        """
        base = osp.basename(name)
        match = self.regex.match(base)
        try:
            if match is None:
                raise ValueError
            if self.regex.groupindex:
                pid, cam = int(match['pid']), int(match['cam'])
                view = self.view_base
                if 'view' in self.regex.groupindex and match['view']:
                    view = int(match['view'])
            else:
                pid, cam = int(match.group(1)), int(match.group(2))
                view = self.view_base
        except ValueError:
            raise ValueError(
                f'{self.name}: the file name "{name}" in {self.split_dir} '
                f'does not match the expected pattern "{self.pattern}" '
                '(integer person id and camera).') from None
        return pid, cam, view

    def load_records(self) -> List[RawRecord]:
        """Scan the split folder and parse the file names.

        Returns:
            list[RawRecord]: One record per image, sorted by name.
        """
        check_dir(self.data_root, self.layout(), 'dataset root')
        check_dir(self.split_dir, self.layout(), f'{self.split} folder')
        records = []
        for name in list_images(self.split_dir, self.suffixes, self.recursive):
            pid, cam, view = self.parse_name(name)
            records.append(
                RawRecord(
                    osp.join(self.split_dir, name), pid, cam, view,
                    osp.join(self.split_dir, name)))
        return records

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [f'folder: {self.split_dir}']
