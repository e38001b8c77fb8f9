import os.path as osp
import sys
import textwrap

import torch
from mmengine.config import Config

from mmpha.registry import DATASETS, MODELS
from mmpha.structures import ReIDDataSample

TINY_TRANSREID = ('configs/transreid/transreid_vit-tiny-p16-s12_scratch_'
                  '1xb32-8x4_16e_synthreid-128x64.py')


def test_downstream_package_registers_and_is_built(tmp_path, monkeypatch,
                                                   repo_root):
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
    # A downstream leaf config on top of an mmpha config: the custom loss
    # replaces the head's metric loss.
    leaf_file = tmp_path / 'leaf.py'
    leaf_file.write_text(
        textwrap.dedent(f"""
        _base_ = ['{osp.join(repo_root, TINY_TRANSREID)}']
        custom_imports = dict(imports=['my_reid_ext'],
                              allow_failed_imports=False)
        model = dict(
            backbone=dict(arch=dict(embed_dims=32, num_layers=2,
                                    num_heads=2, feedforward_channels=64)),
            head=dict(num_classes=3,
                      loss_triplet=dict(_delete_=True,
                                        type='CenterDistanceLoss',
                                        loss_weight=0.5)))
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

        leaf = Config.fromfile(str(leaf_file))
        model = MODELS.build(leaf.model)
        model.init_weights()
        assert type(model.head.loss_triplet).__name__ == \
            'CenterDistanceLoss'
        height, width = leaf.model.backbone.img_size
        samples = [
            ReIDDataSample().set_gt_label(i // 2).set_cam_id(i % 2)
            for i in range(6)
        ]
        losses = model(torch.randn(6, 3, height, width), samples, mode='loss')
        assert set(losses) >= {'loss_cls', 'loss_triplet'}
        assert losses['loss_triplet'].item() > 0
        losses['loss_triplet'].backward()
        assert model.backbone.cls_token.grad is not None
    finally:
        sys.modules.pop('my_reid_ext', None)
        MODELS.module_dict.pop('CenterDistanceLoss', None)
        DATASETS.module_dict.pop('TwoItemDataset', None)
