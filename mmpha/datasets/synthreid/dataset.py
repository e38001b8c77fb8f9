"""SynthReID, the procedural dataset that mmpha generates when asked."""
import os.path as osp
from typing import List, Optional

from mmpha.registry import DATASETS
from ..base_reid_dataset import RawRecord, SplitType
from ..custom import ReIDFolderDataset
from .generator import ensure_synthreid
from .spec import SynthReIDSpec


@DATASETS.register_module()
class SynthReID(ReIDFolderDataset):
    """SynthReID: read from ``data_root``, generated there when asked.

    The images are drawn by :mod:`mmpha.datasets.synthreid.generator` from
    ``seed`` and ``spec`` and written in the Market-1501 layout with a
    ``meta.json``; later loads reuse them (after checking that seed, spec
    and generator version match). A missing ``data_root`` is generated only
    with ``auto_generate=True``, which the shipped configs set; without it
    a missing (e.g. misspelled) ``data_root`` is a ``FileNotFoundError``
    naming the path, never a new folder. The default spec gives 75 training
    identities (1,200 images), 300 query and 1,050 gallery images (75
    identities and 150 distractors of id 0), 6 cameras, 256 x 128 pixels.
    See ``docs/en/user_guides/dataset_prepare.md`` for what the images show.

    Args:
        data_root (str): Where the dataset is cached. Defaults to
            ``'data/synthreid'``.
        split (str): ``'train'``, ``'query'`` or ``'gallery'``. Defaults to
            ``'train'``.
        seed (int): Random seed of the generator. Defaults to 0.
        spec (dict, optional): Fields of
            :class:`~mmpha.datasets.synthreid.SynthReIDSpec`
            (``num_ids``, ``num_train_ids``, ``num_cameras``, ...). None
            uses the defaults. Defaults to None.
        auto_generate (bool): Generate the dataset into ``data_root`` when
            it is missing (or was made by an older generator). False raises
            ``FileNotFoundError`` naming the path instead. Defaults to
            False.
        nproc (int): Worker processes of the generation. Defaults to 1.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`~mmpha.datasets.BaseReIDDataset`.
    """

    LAYOUT = ('data_root/{bounding_box_train,query,bounding_box_test}/ and '
              'meta.json, written by mmpha.datasets.synthreid')

    def __init__(self,
                 data_root: str = 'data/synthreid',
                 split: SplitType = 'train',
                 seed: int = 0,
                 spec: Optional[dict] = None,
                 auto_generate: bool = False,
                 nproc: int = 1,
                 **kwargs) -> None:
        if spec is not None and not isinstance(spec, dict):
            raise TypeError(f'spec must be a dict or None, got {spec!r}.')
        unknown = set(spec or {}) - set(SynthReIDSpec.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f'Unknown SynthReID spec keys {sorted(unknown)}; allowed: '
                f'{sorted(SynthReIDSpec.__dataclass_fields__)}.')
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'seed must be a non-negative int, got {seed!r}.')
        if not isinstance(auto_generate, bool):
            raise TypeError('auto_generate must be a bool, got '
                            f'{auto_generate!r}.')
        self.seed = seed
        self.spec = SynthReIDSpec(**(spec or {}))
        self.auto_generate = auto_generate
        self.nproc = nproc
        super().__init__(
            data_root=data_root,
            split=split,
            suffixes=('.jpg', ),
            num_cameras=self.spec.num_cameras,
            junk_pids=(),
            distractor_pids=(0, ),
            pid_range=(1, self.spec.num_ids),
            **kwargs)

    def load_records(self) -> List[RawRecord]:
        """Generate the dataset if needed, then scan the split folder.

        Returns:
            list[RawRecord]: One record per image.
        """
        ensure_synthreid(
            self.data_root,
            self.seed,
            self.spec,
            auto_generate=self.auto_generate,
            nproc=self.nproc,
            layout=self.LAYOUT)
        return super().load_records()

    def extra_repr(self) -> List[str]:
        """Return lines describing the split."""
        return super().extra_repr() + [
            f'seed: {self.seed}',
            f'meta: {osp.join(self.data_root, "meta.json")}'
        ]
