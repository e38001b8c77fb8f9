"""Dump the features of a test run for later analysis."""
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmpha.registry import METRICS
from mmpha.utils.atomic_io import atomic_torch_save


def check_output_file(path: str,
                      suffix: Optional[str] = None,
                      what: str = 'the output file') -> str:
    """Check, before any work, that a result file can be written.

    The file's directory must exist and accept a new file (a temporary file
    is created and removed there, which is what the atomic write will do),
    and the path must not be a directory. Checking first means a test run
    does not evaluate for an hour and then fail on its last line.

    Args:
        path (str): The output path.
        suffix (str, optional): The required file-name ending, e.g.
            ``'.pth'``. Defaults to None (any).
        what (str): How to name the path in messages (``'--out'``).
            Defaults to ``'the output file'``.

    Returns:
        str: ``path``, absolute.

    Raises:
        ValueError: If ``path`` does not end with ``suffix``.
        IsADirectoryError: If ``path`` is a directory.
        FileNotFoundError: If its directory does not exist.
        PermissionError: If its directory does not accept a new file.
    """
    path = os.fspath(path)
    if suffix is not None and not path.endswith(suffix):
        raise ValueError(f'{what} must end with "{suffix}", got {path!r}')
    abspath = osp.abspath(path)
    if osp.isdir(abspath):
        raise IsADirectoryError(
            f'{what} "{path}" is a directory; expected a file path')
    dirname = osp.dirname(abspath)
    if not osp.isdir(dirname):
        raise FileNotFoundError(
            f'the directory "{dirname}" of {what} "{path}" does not exist; '
            'create it first')
    try:
        with tempfile.NamedTemporaryFile(dir=dirname, prefix='.write-test-'):
            pass
    except OSError as err:
        raise PermissionError(
            f'cannot write {what} "{path}": its directory "{dirname}" does '
            f'not accept a new file ({err.strerror or err})') from err
    return abspath


def _as_int(value) -> int:
    if isinstance(value, torch.Tensor):
        return int(value.reshape(-1)[0].item())
    return int(value)


@METRICS.register_module()
class DumpReIDResults(BaseMetric):
    """Write query and gallery features of a test run to a ``.pth`` file.

    Used by ``tools/test.py --out``. The file holds only tensors, lists,
    strings and numbers, so ``torch.load(path, weights_only=True)`` reads it.
    Its keys: ``query_feats`` ``(Q, D)``, ``gallery_feats`` ``(G, D)``,
    ``q_pids``/``g_pids`` and ``q_camids``/``g_camids`` (LongTensors),
    ``q_img_paths``/``g_img_paths`` (lists of str), and with several test
    sets (:class:`~mmpha.datasets.ReIDTestSets`) ``q_test_sets`` /
    ``g_test_sets``, the test set of each row; ``tools/test.py`` adds
    ``metrics`` (dict) after the evaluation. Both writes are atomic (a
    temporary file in the same directory, ``fsync``, rename): the file is
    absent or complete, never half-written. The path is checked writable
    when the metric is built (:func:`check_output_file`).

    Args:
        out_file_path (str): Output path ending with ``.pth``.
        collect_device (str): Device used to gather results across ranks.
            Defaults to ``'cpu'``.
    """

    default_prefix = 'dump'

    def __init__(self,
                 out_file_path: str,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        # Rank 0 writes the file: only its file system must accept it.
        if get_rank() == 0:
            check_output_file(
                out_file_path, suffix='.pth', what='out_file_path')
        self.out_file_path = out_file_path

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the feature, id, camera, split and path of every sample."""
        for sample in data_samples:
            self.results.append(
                dict(
                    feat=sample['pred_feature'].detach().float().cpu(),
                    pid=_as_int(sample['gt_label']),
                    camid=_as_int(sample['cam_id']),
                    is_query=bool(sample['is_query']),
                    img_path=sample.get('img_path', ''),
                    test_set=sample.get('test_set', '')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Write the file (rank 0) and return no metric."""
        out: dict = {}
        for prefix, is_query in (('q', True), ('g', False)):
            part = [r for r in results if r['is_query'] == is_query]
            name = 'query_feats' if is_query else 'gallery_feats'
            out[name] = torch.stack([r['feat'] for r in part]) if part \
                else torch.zeros(0)
            out[f'{prefix}_pids'] = torch.tensor([r['pid'] for r in part],
                                                 dtype=torch.long)
            out[f'{prefix}_camids'] = torch.tensor([r['camid'] for r in part],
                                                   dtype=torch.long)
            out[f'{prefix}_img_paths'] = [r['img_path'] for r in part]
            if any(r['test_set'] for r in results):
                out[f'{prefix}_test_sets'] = [r['test_set'] for r in part]
        atomic_torch_save(out, self.out_file_path)
        print_log(f'Features dumped to {self.out_file_path}', 'current')
        return {}


def append_metrics_to_dump(path: str, metrics: Dict[str, float]) -> None:
    """Add the evaluation metrics to a file written by DumpReIDResults.

    Args:
        path (str): The ``.pth`` file.
        metrics (dict): Metric name to value, as returned by
            ``Runner.test()``.
    """
    data = torch.load(path, weights_only=True)
    data['metrics'] = {k: float(v) for k, v in metrics.items()}
    atomic_torch_save(data, path)
