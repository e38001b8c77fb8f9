"""Re-ID datasets built from other re-ID datasets.

- :class:`CombinedReIDDataset`: several training sets as one, identities and
  cameras offset so that none collide; optionally each dataset's train,
  query and gallery splits together ("combine all", as fast-reid's
  ``DATASETS.COMBINEALL``).
- :class:`~mmpha.datasets.ReIDTestSets` (``multi_test_sets.py``): the
  query + gallery pairs of several datasets in one evaluation loader.

Both take the member datasets as configs of any registered re-ID dataset
(:class:`~mmpha.datasets.BaseReIDDataset` or anything whose samples carry
``img_path``, ``gt_label``, ``cam_id``): they build each split without a
pipeline, read its data infos and apply their own pipeline.
"""
import copy
from collections import Counter
from typing import (Callable, Dict, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmpha.registry import DATASETS
from .base_reid_dataset import SPLITS, GtLabelsMixin

#: Keys of a member's data info that the wrappers carry over.
_KEPT_KEYS = ('img_path', 'gt_label', 'cam_id', 'view_id')


def dataset_type_name(cfg: dict) -> str:
    """The lower-case class name of a dataset config, for default names.

    Args:
        cfg (dict): A dataset config with ``type`` (a name or a class).

    Returns:
        str: e.g. ``'market1501'`` for ``dict(type='Market1501')``.
    """
    kind = cfg.get('type', 'dataset')
    name = kind if isinstance(kind, str) else getattr(kind, '__name__',
                                                      'dataset')
    return name.split('.')[-1].lower()


def unique_names(cfgs: Sequence[dict],
                 names: Optional[Sequence[str]] = None) -> List[str]:
    """One distinct name per dataset config.

    Args:
        cfgs (Sequence[dict]): The dataset configs.
        names (Sequence[str], optional): Names given by the user, one per
            config; None derives them from the types, numbering repeats
            (``synthreid``, ``synthreid_2``). Defaults to None.

    Returns:
        list[str]: The names.

    Raises:
        ValueError: When ``names`` has another length, an empty name or a
            repeated one.
    """
    if names is not None:
        names = list(names)
        if len(names) != len(cfgs) or not all(
                isinstance(n, str) and n for n in names):
            raise ValueError(f'names must give one non-empty str per dataset '
                             f'({len(cfgs)}), got {names!r}.')
        repeated = sorted(n for n, c in Counter(names).items() if c > 1)
        if repeated:
            raise ValueError(f'names must be distinct; {repeated} repeat.')
        return names
    counts: Counter = Counter()
    out = []
    for cfg in cfgs:
        base = dataset_type_name(cfg)
        counts[base] += 1
        out.append(base if counts[base] == 1 else f'{base}_{counts[base]}')
    return out


def build_split(cfg: dict, split: str, where: str) -> BaseDataset:
    """Build one split of a member dataset, without a pipeline.

    Args:
        cfg (dict): The member's config (any ``split`` or ``pipeline`` in it
            is replaced).
        split (str): ``'train'``, ``'query'`` or ``'gallery'``.
        where (str): Where the config comes from, for messages (e.g.
            ``'datasets[1]'``).

    Returns:
        BaseDataset: The fully initialised split.

    Raises:
        TypeError: When ``cfg`` is not a dataset config dict.
    """
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f'{where} must be a dataset config dict with a '
                        f'"type" (e.g. dict(type="Market1501", '
                        f'data_root=...)), got {cfg!r}.')
    cfg = dict(copy.deepcopy(dict(cfg)), split=split, pipeline=[])
    cfg.pop('lazy_init', None)
    # Only read once, here: serialising it (and mmengine's gc.collect() that
    # comes with it) would be wasted.
    cfg.setdefault('serialize_data', False)
    dataset = DATASETS.build(cfg)
    if not getattr(dataset, '_fully_initialized', True):
        dataset.full_init()
    return dataset


def read_infos(dataset: BaseDataset, where: str) -> List[dict]:
    """The data infos of a member split, checked for the re-ID keys.

    Args:
        dataset (BaseDataset): A built member split.
        where (str): The member's name, for messages.

    Returns:
        list[dict]: One dict per sample with the keys of ``_KEPT_KEYS``
        (``view_id`` 0 when absent).
    """
    infos = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        missing = [
            k for k in ('img_path', 'gt_label', 'cam_id') if k not in info
        ]
        if missing:
            raise KeyError(f'{where}: sample {i} of {type(dataset).__name__}'
                           f' lacks {missing}; a re-ID dataset gives '
                           'img_path, gt_label and cam_id.')
        kept = {k: info[k] for k in _KEPT_KEYS if k in info}
        kept.setdefault('view_id', 0)
        infos.append(kept)
    return infos


class ReIDWrapperBase(GtLabelsMixin, BaseDataset):
    """What both wrappers share: the member configs, the labels array.

    Args:
        pipeline (Sequence[dict | Callable]): Transforms of every sample.
            Defaults to ``()``.
        test_mode (bool): mmengine's test mode. Defaults to False.
        lazy_init (bool): Defer building the members until ``full_init()``.
            Defaults to False.
        serialize_data (bool): Keep the data list as one numpy buffer.
            Defaults to True.
        max_refetch (int): Re-fetch attempts of a failed sample. Defaults to
            1000.
        metainfo (Mapping, optional): Extra meta information. Defaults to
            None.
    """

    def __init__(self,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 max_refetch: int = 1000,
                 metainfo: Optional[Mapping] = None) -> None:
        self._init_dataset('', pipeline, test_mode, lazy_init, serialize_data,
                           max_refetch, metainfo)


@DATASETS.register_module()
class CombinedReIDDataset(ReIDWrapperBase):
    """Several re-ID training sets as one, with no identity or camera shared.

    Dataset ``d`` (in the order given) gets the labels
    ``L_d .. L_d + P_d - 1`` with ``L_d = P_0 + ... + P_{d-1}`` and ``P_d``
    its number of identities, and the cameras ``C_d .. C_d + M_d - 1`` with
    ``C_d = M_0 + ... + M_{d-1}`` and ``M_d`` its ``num_cameras``, so the
    labels are ``0..N-1`` over all datasets and two datasets' cameras never
    share a side-information embedding. Views are kept as they are
    (``num_views`` is the largest of the members').

    With ``combine_all`` a member contributes its query and gallery images
    too, as fast-reid's ``combineall``: its junk ids are dropped (the
    dataset does that already) and so are its distractors
    (``distractor_pids``, e.g. Market-1501's 0000), and the test identities
    are new identities after the training ones even where a raw id equals a
    training id (MSMT17 numbers both sets from 0).

    Meta information: ``split='train'``, ``num_classes`` (N),
    ``num_cameras``, ``num_views``, ``num_images`` and ``datasets``, one
    dict per member with ``name``, ``num_classes``, ``num_cameras``,
    ``num_images``, ``label_offset``, ``cam_offset`` and ``splits``. The
    members' statistics are logged when the data is loaded. A model config
    gets ``num_classes`` and ``camera_num`` from here by stating ``'auto'``
    (see :func:`~mmpha.engine.resolve_auto_sizes`).

    Args:
        datasets (Sequence[dict]): Configs of registered re-ID datasets
            (their ``split`` and ``pipeline`` are replaced).
        combine_all (bool | Sequence[bool]): Whether each member adds its
            query and gallery splits; one bool for all, or one per member.
            Defaults to False.
        names (Sequence[str], optional): A name per member for the logs
            and meta information. None uses the lower-case type names,
            numbered when repeated. Defaults to None.
        **kwargs: ``pipeline``, ``test_mode``, ``lazy_init``,
            ``serialize_data``, ``max_refetch``, ``metainfo`` of
            :class:`ReIDWrapperBase`.
    """

    def __init__(self,
                 datasets: Sequence[dict],
                 combine_all: Union[bool, Sequence[bool]] = False,
                 names: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if isinstance(datasets, (str, Mapping)) or not isinstance(
                datasets, Sequence) or not datasets:
            raise TypeError('datasets must be a non-empty list of dataset '
                            f'configs, got {datasets!r}.')
        self.dataset_cfgs = [copy.deepcopy(d) for d in datasets]
        for i, cfg in enumerate(self.dataset_cfgs):
            if not isinstance(cfg, Mapping) or 'type' not in cfg:
                raise TypeError(f'datasets[{i}] must be a dataset config '
                                f'dict with a "type", got {cfg!r}.')
        if isinstance(combine_all, bool):
            flags = [combine_all] * len(self.dataset_cfgs)
        else:
            flags = list(combine_all) if isinstance(combine_all,
                                                    Sequence) else []
            if len(flags) != len(self.dataset_cfgs) or not all(
                    isinstance(f, bool) for f in flags):
                raise TypeError(
                    'combine_all must be a bool or one bool per dataset '
                    f'({len(self.dataset_cfgs)}), got {combine_all!r}.')
        self.combine_all = flags
        self.names = unique_names(self.dataset_cfgs, names)
        super().__init__(**kwargs)

    def _load_member(self, index: int) -> Tuple[List[dict], dict]:
        """Read one member: its samples, labelled from 0, and statistics."""
        cfg, name = self.dataset_cfgs[index], self.names[index]
        splits = SPLITS if self.combine_all[index] else ('train', )
        samples: List[dict] = []
        label_of: Dict[Tuple[str, int], int] = {}
        num_cameras = 0
        num_views = 1
        dropped = 0
        for split in splits:
            dataset = build_split(cfg, split, f'datasets[{index}] ({name})')
            meta = dataset.metainfo
            num_cameras = max(num_cameras, int(meta.get('num_cameras', 0)))
            num_views = max(num_views, int(meta.get('num_views', 1)))
            distractors = getattr(dataset, 'distractor_pids', frozenset())
            # Query and gallery share identities; the training ones are
            # other people even when the raw numbers coincide.
            group = 'train' if split == 'train' else 'test'
            for info in read_infos(dataset, name):
                pid = int(info['gt_label'])
                if group == 'test' and pid in distractors:
                    dropped += 1
                    continue
                key = (group, pid)
                info['gt_label'] = key
                samples.append(info)
                label_of.setdefault(key, -1)
        # Training identities first, each group in ascending raw id, so the
        # labels do not depend on the order of the files.
        for i, key in enumerate(
                sorted(label_of, key=lambda k: (k[0] != 'train', k[1]))):
            label_of[key] = i
        for info in samples:
            info['gt_label'] = label_of[info['gt_label']]
        if num_cameras < 1:
            num_cameras = max(int(s['cam_id']) for s in samples) + 1
        stats = dict(
            name=name,
            num_classes=len(label_of),
            num_cameras=num_cameras,
            num_views=num_views,
            num_images=len(samples),
            num_dropped_distractors=dropped,
            splits=list(splits))
        return samples, stats

    def load_data_list(self) -> List[dict]:
        """Build every member and offset its labels and cameras.

        Returns:
            list[dict]: The data infos: ``img_path``, ``gt_label``,
            ``cam_id``, ``view_id``, ``is_query`` (False) and ``dataset``
            (the member's name).
        """
        data_list: List[dict] = []
        members = []
        label_offset = cam_offset = 0
        for index in range(len(self.dataset_cfgs)):
            samples, stats = self._load_member(index)
            stats.update(label_offset=label_offset, cam_offset=cam_offset)
            for info in samples:
                data_list.append(
                    dict(
                        img_path=info['img_path'],
                        gt_label=info['gt_label'] + label_offset,
                        cam_id=int(info['cam_id']) + cam_offset,
                        view_id=int(info['view_id']),
                        is_query=False,
                        dataset=stats['name']))
            label_offset += stats['num_classes']
            cam_offset += stats['num_cameras']
            members.append(stats)
        self._set_labels(data_list)
        self._metainfo.update(
            split='train',
            num_classes=label_offset,
            num_cameras=cam_offset,
            num_views=max(m['num_views'] for m in members),
            num_images=len(data_list),
            datasets=members)
        print_log(self.summary(members), logger='current')
        return data_list

    @staticmethod
    def summary(members: Sequence[dict]) -> str:
        """A table of the members' statistics, for the log.

        Args:
            members (Sequence[dict]): The ``datasets`` meta information.

        Returns:
            str: One line per member and one of totals.
        """
        lines = [
            'CombinedReIDDataset: name | splits | ids | images | cameras | '
            'label offset | camera offset'
        ]
        for m in members:
            lines.append(f'  {m["name"]} | {"+".join(m["splits"])} | '
                         f'{m["num_classes"]} | {m["num_images"]} | '
                         f'{m["num_cameras"]} | {m["label_offset"]} | '
                         f'{m["cam_offset"]}')
        lines.append(f'  total | | {sum(m["num_classes"] for m in members)} | '
                     f'{sum(m["num_images"] for m in members)} | '
                     f'{sum(m["num_cameras"] for m in members)} | |')
        return '\n'.join(lines)

    def __repr__(self) -> str:
        """Print the members and the sizes."""
        lines = [f'Dataset {type(self).__name__}', f'members: {self.names}']
        if self._fully_initialized:
            meta = self._metainfo
            lines += [
                f'images: {len(self)}', f'identities: {meta["num_classes"]}',
                f'cameras: {meta["num_cameras"]}'
            ]
        return '\n    '.join(lines)
