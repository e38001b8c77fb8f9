"""Distractor images appended to a gallery (e.g. Market-1501 + 500k)."""
import os.path as osp
import re
from typing import Optional, Tuple

from mmpha.registry import DATASETS
from .base_reid_dataset import IMG_SUFFIXES
from .custom import ReIDFolderDataset

# A camera in a Market-style name ("0000_c3s1_..."); other names have none.
_CAMERA = re.compile(r'_c(\d+)')


@DATASETS.register_module()
class ReIDDistractors(ReIDFolderDataset):
    """A folder of distractor images, a gallery split that never matches.

    The Market-1501 large-scale protocol (Zheng et al., ICCV 2015, Sec. 5)
    adds the ``distractors_500k`` set (about 500,000 boxes of background
    and of people outside the test identities) to the 15,913 test images::

        data_root/                    # e.g. data/market1501
        ├── query/ ...
        ├── bounding_box_test/ ...
        └── distractors_500k/         # distractor_dir, sub-folders allowed
            └── ... .jpg

    Every image gets the person id ``distractor_pid`` (default -1, an id no
    query has, since junk ids are dropped from the query split), so in
    :class:`~mmpha.evaluation.ReIDMetric` it is never a positive nor a
    same-camera "junk" image: it only pushes the true matches down the
    ranking. The camera is read from a Market-style name (``_c3`` is camera
    3), else it is ``cam_base``. Append it to the evaluation
    ``ConcatDataset`` after the gallery (see
    ``configs/_base_/datasets/market1501_distractors500k.py``); with
    ~500k images pair it with ``ReIDMetric(mode='exact_chunked')``.

    Args:
        data_root (str): Root folder of the dataset.
        distractor_dir (str): Folder of the distractors, relative to
            ``data_root`` (or absolute). Defaults to ``'distractors_500k'``.
        distractor_pid (int): Person id given to every image; it must not
            be the id of any query. Defaults to -1.
        suffixes (Sequence[str]): Image suffixes. Defaults to
            ``('.jpg', '.jpeg', '.png', '.bmp')``.
        recursive (bool): Also scan sub-folders. Defaults to True.
        cam_base (int): Number of the first camera in the names. Defaults
            to 1.
        num_cameras (int, optional): Number of cameras of the dataset (a
            camera outside it is an error). Defaults to None.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    def __init__(self,
                 data_root: str,
                 distractor_dir: str = 'distractors_500k',
                 distractor_pid: int = -1,
                 suffixes=IMG_SUFFIXES,
                 recursive: bool = True,
                 cam_base: int = 1,
                 num_cameras: Optional[int] = None,
                 **kwargs) -> None:
        if not isinstance(distractor_dir, str) or not distractor_dir:
            raise ValueError('distractor_dir must be a folder name, got '
                             f'{distractor_dir!r}.')
        if isinstance(distractor_pid,
                      bool) or not isinstance(distractor_pid, int):
            raise TypeError('distractor_pid must be an int, got '
                            f'{distractor_pid!r}.')
        self.distractor_pid = distractor_pid
        kwargs.pop('split', None)
        super().__init__(
            data_root=data_root,
            split='gallery',
            split_dirs=dict(gallery=distractor_dir),
            suffixes=suffixes,
            recursive=recursive,
            cam_base=cam_base,
            num_cameras=num_cameras,
            junk_pids=(),
            distractor_pids=(distractor_pid, ),
            **kwargs)

    def layout(self) -> str:
        """Describe the expected layout."""
        return (f'data_root/{self.split_dirs["gallery"]}/ holding the '
                f'distractor images ({", ".join(self.suffixes)}), in '
                'sub-folders or not')

    def parse_name(self, name: str) -> Tuple[int, int, int]:
        """The distractor id, the camera of a Market-style name (else
        ``cam_base``) and view ``view_base``."""
        match = _CAMERA.search(osp.basename(name))
        cam = int(match.group(1)) if match else self.cam_base
        return self.distractor_pid, cam, self.view_base
