"""Dump the features of a test run for later analysis."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

from mmpha.registry import METRICS


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
    ``q_img_paths``/``g_img_paths`` (lists of str); ``tools/test.py`` adds
    ``metrics`` (dict) after the evaluation.

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
        if not str(out_file_path).endswith('.pth'):
            raise ValueError(
                f'out_file_path must end with ".pth", got {out_file_path!r}')
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
                    img_path=sample.get('img_path', '')))

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
        mkdir_or_exist(osp.dirname(osp.abspath(self.out_file_path)))
        torch.save(out, self.out_file_path)
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
    torch.save(data, path)
