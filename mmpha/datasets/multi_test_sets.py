"""Several test sets (query + gallery pairs) in one evaluation loader."""
import copy
from typing import Dict, List, Mapping, Union

from mmengine.logging import print_log

from mmpha.registry import DATASETS
from .dataset_wrappers import ReIDWrapperBase, build_split, read_infos

#: The data info key naming the test set of a sample.
TEST_SET_KEY = 'test_set'


@DATASETS.register_module()
class ReIDTestSets(ReIDWrapperBase):
    """The query + gallery pairs of several test sets in one loader.

    The samples are laid out test set by test set, query then gallery, each
    with ``test_set`` (its name) added to the data info;
    :class:`~mmpha.datasets.transforms.PackReIDInputs` copies it into the
    data sample and :class:`~mmpha.evaluation.MultiTestSetMetric` evaluates
    every test set on its own, logging ``{name}/mAP``, ``{name}/R1``, ...
    Identities are those of each dataset (a query is only ranked against the
    gallery of its own test set). Cameras are too, unless ``cam_offsets``
    shifts them: a model trained on a :class:`CombinedReIDDataset` with
    side-information camera embeddings must see each test set's cameras at
    the offsets it was trained with. Shifting query and gallery alike
    changes no metric.

    Meta information: ``test_sets`` (the names, in order) and
    ``test_set_sizes`` (``{name: dict(num_query=..., num_gallery=...)}``),
    logged when the data is loaded.

    Args:
        test_sets (Mapping[str, dict]): Test set name -> either a dataset
            config (its ``'query'`` and ``'gallery'`` splits are built) or
            ``dict(query=cfg, gallery=cfg)`` with one config per split. The
            names prefix the metrics, so they contain no ``'/'``.
        cam_offsets (str | Mapping[str, int], optional): ``'cumulative'``
            shifts each test set's cameras by the ``num_cameras`` of the
            ones before it, which matches a
            :class:`~mmpha.datasets.CombinedReIDDataset` of the same
            datasets in the same order; a dict gives the shift of each named
            test set (others 0). None shifts nothing. Defaults to None.
        test_mode (bool): mmengine's test mode. Defaults to True.
        **kwargs: ``pipeline``, ``lazy_init`` (defer building the sets until
            ``full_init()``), ``serialize_data``, ``max_refetch``,
            ``metainfo`` of
            :class:`~mmpha.datasets.dataset_wrappers.ReIDWrapperBase`.
    """

    def __init__(self,
                 test_sets: Mapping[str, dict],
                 cam_offsets: Union[None, str, Mapping[str, int]] = None,
                 test_mode: bool = True,
                 **kwargs) -> None:
        if not isinstance(test_sets, Mapping) or not test_sets:
            raise TypeError('test_sets must be a non-empty dict of test set '
                            'name -> dataset config, got '
                            f'{test_sets!r}.')
        self.test_set_cfgs: Dict[str, Dict[str, dict]] = {}
        for name, cfg in test_sets.items():
            if not isinstance(name, str) or not name or '/' in name:
                raise ValueError('test set names must be non-empty str '
                                 f'without "/", got {name!r}.')
            if not isinstance(cfg, Mapping):
                raise TypeError(f'test_sets[{name!r}] must be a dataset '
                                f'config dict, got {cfg!r}.')
            if 'type' in cfg:
                pair = dict(query=cfg, gallery=cfg)
            elif set(cfg) == {'query', 'gallery'}:
                pair = dict(cfg)
            else:
                raise ValueError(
                    f'test_sets[{name!r}] must be a dataset config (with a '
                    '"type") or dict(query=cfg, gallery=cfg); got the keys '
                    f'{sorted(cfg)}.')
            self.test_set_cfgs[name] = {
                k: copy.deepcopy(dict(v))
                for k, v in pair.items()
            }
        if isinstance(cam_offsets, Mapping):
            unknown = sorted(set(cam_offsets) - set(self.test_set_cfgs))
            bad = {
                k: v
                for k, v in cam_offsets.items()
                if isinstance(v, bool) or not isinstance(v, int) or v < 0
            }
            if unknown or bad:
                raise ValueError(
                    'cam_offsets must map test set names '
                    f'{list(self.test_set_cfgs)} to non-negative ints; got '
                    f'unknown names {unknown} and bad values {bad}.')
        elif cam_offsets not in (None, 'cumulative'):
            raise ValueError('cam_offsets must be None, "cumulative" or a '
                             f'dict of name -> int, got {cam_offsets!r}.')
        self.cam_offsets = cam_offsets
        super().__init__(test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Build the query and gallery split of every test set.

        Returns:
            list[dict]: The data infos with ``is_query`` and ``test_set``.
        """
        data_list: List[dict] = []
        sizes: Dict[str, Dict[str, int]] = {}
        cumulative = 0
        for name, pair in self.test_set_cfgs.items():
            if isinstance(self.cam_offsets, Mapping):
                offset = self.cam_offsets.get(name, 0)
            else:
                offset = cumulative if self.cam_offsets else 0
            sizes[name] = dict(cam_offset=offset)
            num_cameras = 0
            for split in ('query', 'gallery'):
                dataset = build_split(pair[split], split,
                                      f'test_sets[{name!r}].{split}')
                num_cameras = max(num_cameras,
                                  int(dataset.metainfo.get('num_cameras', 0)))
                infos = read_infos(dataset, name)
                for info in infos:
                    info.update(
                        cam_id=int(info['cam_id']) + offset,
                        is_query=split == 'query',
                        **{TEST_SET_KEY: name})
                data_list += infos
                sizes[name][f'num_{split}'] = len(infos)
            if num_cameras < 1:
                num_cameras = 1 + max(
                    int(d['cam_id']) - offset
                    for d in data_list if d[TEST_SET_KEY] == name)
            sizes[name]['num_cameras'] = num_cameras
            cumulative += num_cameras
        self._set_labels(data_list)
        self._metainfo.update(
            test_sets=list(self.test_set_cfgs),
            test_set_sizes=sizes,
            num_images=len(data_list))
        print_log(
            'ReIDTestSets: ' + '; '.join(
                f'{n}: {s["num_query"]} query, {s["num_gallery"]} gallery'
                for n, s in sizes.items()),
            logger='current')
        return data_list

    def __repr__(self) -> str:
        """Print the test sets."""
        return (f'Dataset {type(self).__name__}\n    test sets: '
                f'{list(self.test_set_cfgs)}\n    cam_offsets: '
                f'{self.cam_offsets}')
