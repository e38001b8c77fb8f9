"""One re-ID metric per test set of a multi-test-set evaluation loader."""
import copy
from typing import Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmpha.registry import METRICS


@METRICS.register_module()
class MultiTestSetMetric(BaseMetric):
    """Evaluate each test set of one loader on its own, names as prefixes.

    The loader's samples carry the name of their test set under
    ``tag_key`` (as :class:`~mmpha.datasets.ReIDTestSets` gives them, and
    :class:`~mmpha.datasets.transforms.PackReIDInputs` copies into the data
    sample). Every sample goes to an inner metric (``metric``, by default
    :class:`ReIDMetric`); after the results of all ranks are gathered, each
    test set's share is scored by the inner metric alone and its keys are
    prefixed with the name: ``market1501/mAP``, ``msmt17/R1``, ... A query is
    thus ranked against the gallery of its own test set only.

    Checkpoint selection names one of these keys, e.g.
    ``default_hooks = dict(checkpoint=dict(save_best='market1501/mAP'))``.

    The order of the test sets is that of the dataset's ``test_sets`` meta
    information when the evaluator passes it (MMEngine's loops do), else
    the order in which they first appear.

    Args:
        metric (dict): Config of the metric run on each test set. Defaults
            to ``dict(type='ReIDMetric')``.
        test_set_metrics (dict, optional): Test set name -> a metric config
            that replaces ``metric`` for that set (e.g. re-ranking on one).
            Defaults to None.
        tag_key (str): The data sample key holding the test set name.
            Defaults to ``'test_set'``.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): A prefix before the test set names, e.g.
            ``'val'`` gives ``'val/market1501/mAP'``. Defaults to None.
    """

    # The test set names are the prefixes; no second one by default.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 metric: dict = dict(type='ReIDMetric'),
                 test_set_metrics: Optional[Dict[str, dict]] = None,
                 tag_key: str = 'test_set',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not isinstance(metric, dict) or 'type' not in metric:
            raise TypeError('metric must be a metric config dict with a '
                            f'"type", got {metric!r}.')
        test_set_metrics = dict(test_set_metrics or {})
        for name, cfg in test_set_metrics.items():
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise TypeError(f'test_set_metrics[{name!r}] must be a '
                                f'metric config dict, got {cfg!r}.')
        if not isinstance(tag_key, str) or not tag_key:
            raise TypeError(f'tag_key must be a non-empty str, got '
                            f'{tag_key!r}.')
        self.metric_cfg = copy.deepcopy(metric)
        self.test_set_metric_cfgs = copy.deepcopy(test_set_metrics)
        self.tag_key = tag_key
        # Built here so that a bad inner config fails before evaluation.
        self._metrics: Dict[str, BaseMetric] = {}
        self._default = self._build(self.metric_cfg)
        for name, cfg in self.test_set_metric_cfgs.items():
            self._metrics[name] = self._build(cfg)

    def _build(self, cfg: dict) -> BaseMetric:
        metric = METRICS.build(copy.deepcopy(cfg))
        if not isinstance(metric, BaseMetric):
            raise TypeError(f'{cfg!r} is not a BaseMetric.')
        return metric

    def metric_of(self, name: str) -> BaseMetric:
        """The inner metric of one test set.

        Args:
            name (str): The test set name.

        Returns:
            BaseMetric: Its metric (built from ``metric`` unless
            ``test_set_metrics`` names it).
        """
        if name not in self._metrics:
            self._metrics[name] = self._build(self.metric_cfg)
        return self._metrics[name]

    def _tag_of(self, sample: dict) -> str:
        tag = sample.get(self.tag_key)
        if not isinstance(tag, str) or not tag:
            raise KeyError(
                f'MultiTestSetMetric needs the test set name under '
                f'{self.tag_key!r} in every data sample, got '
                f'{tag!r}. Evaluate a ReIDTestSets dataset (it tags the '
                'samples), and keep the key in PackReIDInputs(meta_keys=...)'
                '.')
        return tag

    def process(self, data_batch: object,
                data_samples: Sequence[Union[dict, BaseDataElement]]) -> None:
        """Hand every sample to the metric of its test set.

        Args:
            data_batch (object): The batch from the dataloader.
            data_samples (Sequence[dict | BaseDataElement]): Outputs of the
                model, each with the test set name under ``tag_key`` and
                what the inner metric needs.
        """
        for sample in data_samples:
            as_dict = (
                sample.to_dict()
                if isinstance(sample, BaseDataElement) else sample)
            name = self._tag_of(as_dict)
            inner = self.metric_of(name)
            start = len(inner.results)
            inner.process(data_batch, [as_dict])
            # The results travel in this metric, so that MMEngine gathers
            # them across ranks once, in the loader's order.
            for result in inner.results[start:]:
                self.results.append(dict(test_set=name, result=result))
            del inner.results[start:]

    def test_set_order(self, results: List[dict]) -> List[str]:
        """The names of the test sets to score, in order.

        Args:
            results (list[dict]): The gathered results.

        Returns:
            list[str]: The dataset's ``test_sets`` when known, else the
            names in order of appearance.

        Raises:
            ValueError: When a test set of the dataset has no results.
        """
        seen = list(dict.fromkeys(r['test_set'] for r in results))
        declared = (self.dataset_meta or {}).get('test_sets')
        if not declared:
            return seen
        missing = [n for n in declared if n not in seen]
        if missing:
            raise ValueError(f'No samples of the test sets {missing} reached '
                             f'the metric (got {seen}).')
        return list(declared) + [n for n in seen if n not in declared]

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score every test set with its inner metric.

        Args:
            results (list[dict]): ``dict(test_set=name, result=...)`` of all
                ranks.

        Returns:
            dict[str, float]: ``{name}/{key}`` for every key the inner
            metric returns, test set by test set.
        """
        metrics: Dict[str, float] = {}
        for name in self.test_set_order(results):
            print_log(f'MultiTestSetMetric: test set {name}', logger='current')
            scores = self.metric_of(name).compute_metrics(
                [r['result'] for r in results if r['test_set'] == name])
            for key, value in scores.items():
                metrics[f'{name}/{key}'] = value
        print_log(
            'MultiTestSetMetric: ' +
            '; '.join(f'{key} {value:.2f}' for key, value in metrics.items()
                      if key.split('/')[-1] in ('mAP', 'R1')),
            logger='current')
        return metrics
