"""Reading MMEngine's JSON training logs: curves and training time.

MMEngine's ``LocalVisBackend`` writes one JSON object a line to
``WORK_DIR/TIMESTAMP/vis_data/scalars.json`` (and the same lines to
``TIMESTAMP.json``): a training record every ``LoggerHook.interval``
iterations with ``lr``, ``loss``, every loss term, ``time`` (seconds per
iteration, averaged over the interval), ``data_time``, ``epoch`` (epoch
runs only), ``iter`` (global) and ``step``; a validation record after each
evaluation with the metrics (``mAP``, ``R1``, ...) and ``step`` (the epoch
of an epoch run, the iteration of an iteration run).
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import numpy as np

#: Keys of a training record that are not curves of interest by default.
BOOKKEEPING_KEYS = ('epoch', 'iter', 'step', 'base_lr', 'data_time', 'time',
                    'memory')
#: Validation metrics drawn by default, when the log has them.
DEFAULT_METRICS = ('mAP', 'R1')


@dataclass
class TrainingLog:
    """The records of one run.

    Args:
        path (str): The file read.
        train (list[dict]): Training records, in file order.
        val (list[dict]): Validation records, in file order.
    """
    path: str
    train: List[dict]
    val: List[dict]

    @property
    def by_epoch(self) -> bool:
        """bool: Whether the training records carry an ``epoch``."""
        return bool(self.train) and all('epoch' in r for r in self.train)

    def keys(self) -> List[str]:
        """Every key of the log, training keys first, in first-seen order.

        Returns:
            list[str]: Keys.
        """
        seen: Dict[str, None] = {}
        for record in self.train + self.val:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def default_keys(self) -> List[str]:
        """The keys drawn when none are asked: losses, lr, mAP and R1.

        Returns:
            list[str]: Every ``loss*`` key, then ``lr``, then the metrics of
            :data:`DEFAULT_METRICS` the log has.
        """
        train_keys = {k for r in self.train for k in r}
        val_keys = {k for r in self.val for k in r}
        ordered = self.keys()
        keys = [k for k in ordered if k.startswith('loss') and k in train_keys]
        keys += ['lr'] if 'lr' in train_keys else []
        keys += [k for k in DEFAULT_METRICS if k in val_keys]
        return keys

    def curve(self,
              key: str,
              x: Literal['iter',
                         'epoch'] = 'iter') -> Tuple[np.ndarray, np.ndarray]:
        """The values of one key against iterations or epochs.

        Training values are placed at their ``iter`` (or, for ``x='epoch'``,
        at ``epoch - 1 + (position in the epoch + 1) / records in the
        epoch``, so that epoch ``e``'s last record sits at ``e``);
        validation values at their ``step``, converted to the last
        iteration of that epoch for ``x='iter'`` in an epoch run.

        Args:
            key (str): A key of :meth:`keys`.
            x (str): ``'iter'`` or ``'epoch'``. Defaults to ``'iter'``.

        Returns:
            tuple[numpy.ndarray, numpy.ndarray]: ``x`` and ``y`` values.
        """
        if x not in ('iter', 'epoch'):
            raise ValueError(f'x must be "iter" or "epoch", got {x!r}')
        if x == 'epoch' and not self.by_epoch:
            raise ValueError(f'{self.path} is a log of an iteration-based '
                             'run (no "epoch" in its records): use x="iter"')
        train = [r for r in self.train if key in r]
        val = [r for r in self.val if key in r]
        if not train and not val:
            raise KeyError(f'{self.path} has no key {key!r}; it has '
                           f'{self.keys()}')
        if train:
            ys = np.array([float(r[key]) for r in train])
            if x == 'iter':
                return np.array([float(r['iter']) for r in train]), ys
            return self._epoch_positions(train), ys
        ys = np.array([float(r[key]) for r in val])
        steps = np.array([float(r['step']) for r in val])
        if x == 'iter' and self.by_epoch:
            last_iter = {}
            for r in self.train:
                last_iter[r['epoch']] = max(
                    last_iter.get(r['epoch'], 0), r['iter'])
            steps = np.array(
                [float(last_iter.get(int(s), np.nan)) for s in steps])
        return steps, ys

    @staticmethod
    def _epoch_positions(records: Sequence[dict]) -> np.ndarray:
        counts: Dict[int, int] = {}
        for r in records:
            counts[r['epoch']] = counts.get(r['epoch'], 0) + 1
        seen: Dict[int, int] = {}
        out = []
        for r in records:
            seen[r['epoch']] = seen.get(r['epoch'], 0) + 1
            out.append(r['epoch'] - 1 + seen[r['epoch']] / counts[r['epoch']])
        return np.array(out, dtype=float)


def find_json_log(path: str) -> str:
    """The JSON log file of a path: the file, or the run's ``scalars.json``.

    Args:
        path (str): A ``.json`` file, a ``vis_data`` folder or a run folder
            (``WORK_DIR/TIMESTAMP``).

    Returns:
        str: The file.
    """
    if osp.isfile(path):
        return path
    for candidate in (osp.join(path, 'scalars.json'),
                      osp.join(path, 'vis_data', 'scalars.json')):
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'no JSON log at "{path}": expected a .json file, a vis_data folder '
        'or a run folder holding vis_data/scalars.json')


def load_json_log(path: str) -> TrainingLog:
    """Read an MMEngine JSON log (see the module docstring).

    A record with an ``iter`` key is a training record, any other a
    validation record.

    Args:
        path (str): See :func:`find_json_log`.

    Returns:
        TrainingLog: Its records.
    """
    path = find_json_log(path)
    train, val = [], []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {number}: not a JSON object '
                                 f'({err.msg})') from None
            if not isinstance(record, dict):
                raise ValueError(f'{path}, line {number}: expected a JSON '
                                 f'object, got {type(record).__name__}')
            (train if 'iter' in record else val).append(record)
    if not train and not val:
        raise ValueError(f'{path} holds no records')
    return TrainingLog(path, train, val)


def train_time_stats(log: TrainingLog,
                     include_outliers: bool = False) -> Dict[str, object]:
    """Seconds per iteration of a run, overall and per epoch.

    Args:
        log (TrainingLog): The run.
        include_outliers (bool): Keep the first record of each epoch, whose
            time includes the start of the data loader (and, in epoch 1,
            of the run). It is kept anyway when it is an epoch's only
            record. Defaults to False.

    Returns:
        dict: ``avg_iter_time`` (mean over the records kept), ``epochs``
        (epoch to its mean time; one entry ``0`` for an iteration run),
        ``slowest_epoch`` / ``fastest_epoch`` (epoch, mean time) and
        ``std_over_epochs`` (population std of the epoch means).
    """
    timed = [r for r in log.train if 'time' in r]
    if not timed:
        raise ValueError(f'{log.path} has no training record with "time"')
    groups: Dict[int, List[float]] = {}
    for r in timed:
        groups.setdefault(int(r.get('epoch', 0)), []).append(float(r['time']))
    if not include_outliers:
        groups = {e: t[1:] if len(t) > 1 else t for e, t in groups.items()}
    means = {e: float(np.mean(t)) for e, t in groups.items()}
    slowest = max(means, key=means.get)
    fastest = min(means, key=means.get)
    return dict(
        avg_iter_time=float(
            np.mean([t for ts in groups.values() for t in ts])),
        epochs=means,
        slowest_epoch=(slowest, means[slowest]),
        fastest_epoch=(fastest, means[fastest]),
        std_over_epochs=float(np.std(list(means.values()))))


def curves_of(
    logs: Dict[str, TrainingLog],
    keys: Optional[Sequence[str]] = None,
    x: Literal['iter', 'epoch'] = 'iter'
) -> Dict[str, Dict[str, Tuple[np.ndarray, np.ndarray]]]:
    """The curves of several runs, key by key.

    Args:
        logs (dict[str, TrainingLog]): Run label to its log.
        keys (Sequence[str], optional): Keys to take. Defaults to None (the
            union of the runs' :meth:`TrainingLog.default_keys`).
        x (str): ``'iter'`` or ``'epoch'``. Defaults to ``'iter'``.

    Returns:
        dict: Key to {run label: ``(x, y)``}; a run without the key is left
        out of that key, a key no run has is an error.
    """
    if not logs:
        raise ValueError('logs is empty: give at least one run')
    if not keys:
        keys = list(
            dict.fromkeys(k for log in logs.values()
                          for k in log.default_keys()))
        # The loss terms of every run first, then lr, then the metrics.
        keys.sort(
            key=lambda k: 0 if k.startswith('loss') else 1 if k == 'lr' else 2)
    out = {}
    for key in keys:
        out[key] = {
            label: log.curve(key, x)
            for label, log in logs.items() if key in log.keys()
        }
        if not out[key]:
            raise KeyError(f'no log has the key {key!r}; the first has '
                           f'{next(iter(logs.values())).keys()}')
    return out
