import sys
import textwrap

import torch
from mmengine.config import Config

from mmpha.registry import DATASETS, MODELS


def test_downstream_package_registers_and_is_built(tmp_path, monkeypatch):
    pkg = tmp_path / 'downstream' / 'my_reid_ext'
    pkg.mkdir(parents=True)
    (pkg / '__init__.py').write_text(
        textwrap.dedent("""
        import torch
        from torch import nn
        from mmengine.dataset import BaseDataset

        from mmpha.registry import DATASETS, MODELS


        @MODELS.register_module()
        class CenterDistanceLoss(nn.Module):
            def __init__(self, loss_weight=1.0):
                super().__init__()
                self.loss_weight = loss_weight

            def forward(self, feats, labels):
                loss = feats.new_zeros(())
                for pid in labels.unique():
                    group = feats[labels == pid]
                    loss = loss + (group - group.mean(0)).pow(2).sum(1).mean()
                return self.loss_weight * loss / labels.unique().numel()


        @DATASETS.register_module()
        class TwoItemDataset(BaseDataset):
            def load_data_list(self):
                return [dict(img_path='a.jpg', gt_label=0),
                        dict(img_path='b.jpg', gt_label=1)]
        """))
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        textwrap.dedent("""
        custom_imports = dict(imports=['my_reid_ext'],
                              allow_failed_imports=False)
        loss = dict(type='CenterDistanceLoss', loss_weight=2.0)
        dataset = dict(type='TwoItemDataset', lazy_init=False)
        """))
    monkeypatch.syspath_prepend(str(tmp_path / 'downstream'))
    try:
        cfg = Config.fromfile(str(cfg_file))
        loss = MODELS.build(cfg.loss)
        assert type(loss).__name__ == 'CenterDistanceLoss'
        feats = torch.tensor([[0., 0.], [2., 0.], [5., 5.], [5., 7.]])
        labels = torch.tensor([0, 0, 1, 1])
        # each pair is 1 from its mean in one coordinate: 1 per id, weight 2
        assert torch.isclose(loss(feats, labels), torch.tensor(2.0))
        dataset = DATASETS.build(cfg.dataset)
        assert len(dataset) == 2
        assert dataset[1]['gt_label'] == 1
    finally:
        sys.modules.pop('my_reid_ext', None)
        MODELS.module_dict.pop('CenterDistanceLoss', None)
        DATASETS.module_dict.pop('TwoItemDataset', None)
