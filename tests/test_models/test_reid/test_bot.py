"""BoT: a ResNet baseline on the shared ReIDModel, configs and a real run."""
import glob
import json
import math
import os.path as osp

import torch
from _tiny_reid import run_tool, tiny_config
from mmengine.config import Config

from mmpha.registry import MODELS

BOT_CFG = 'configs/bot/bot_r50_in1k-pre_1xb64-16x4_120e_market1501-256x128.py'
TINY_BOT_CFG = ('configs/bot/bot_r18-tiny_scratch_1xb32-8x4_16e_synthreid-'
                '128x64.py')


def test_bot_config_states_the_paper_recipe(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, BOT_CFG))
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth) == ('ResNet', 50)
    assert tuple(backbone.strides) == (1, 2, 2, 1)  # last stride 1
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    head = cfg.model.head
    assert head.type == 'ReIDHead' and head.neck_feat == 'after'
    assert head.loss_cls.type == 'LabelSmoothLoss'
    assert head.loss_cls.label_smooth_val == 0.1
    assert head.loss_triplet.margin == 0.3
    assert 'jpm' not in cfg.model
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.optim_wrapper.optimizer.lr == 3.5e-4
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == ('LinearLR', 0.1,
                                                              10)
    assert list(steps.milestones) == [40, 70] and steps.gamma == 0.1
    assert cfg.train_cfg.max_epochs == 120
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_dataloader.batch_sampler.num_instances == 4
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadReIDImage', 'Resize', 'RandomFlip', 'RandomCrop', 'RandomErasing',
        'PackReIDInputs'
    ]


def test_resnet50_with_last_stride_1_gives_a_2048_feature(repo_root):
    cfg = Config.fromfile(osp.join(repo_root, BOT_CFG))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    assert model.feat_dim == 2048 and model.jpm is None
    with torch.no_grad():
        feats = model.extract_backbone(torch.zeros(2, 3, 256, 128))
    # 256x128 / 16 (last stride 1): a 16x8 map.
    assert feats.feature_map.shape == (2, 2048, 16, 8)


def test_tiny_bot_trains_through_tools_train(repo_root, tiny_data_root,
                                             tmp_path, monkeypatch):
    cfg = tiny_config(repo_root, TINY_BOT_CFG, tiny_data_root,
                      str(tmp_path / 'work'))
    # The tiny data has 2 training ids of 4 images: P = 2, K = 4.
    cfg.train_dataloader.batch_size = 8
    cfg.model.head.num_classes = 2
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=2, save_best=None)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    path = str(tmp_path / 'tiny_bot.py')
    cfg.dump(path)
    run_tool(repo_root, 'tools/train.py', [path], monkeypatch)
    logs = glob.glob(
        str(tmp_path / 'work' / '*' / 'vis_data' / 'scalars.json'))
    assert logs
    records = [json.loads(line) for line in open(logs[0])]
    val = [r for r in records if 'mAP' in r]
    assert val and math.isfinite(val[-1]['mAP'])
    assert 0.0 < val[-1]['mAP'] <= 100.0
    losses = [r['loss'] for r in records if 'loss' in r]
    assert losses and all(math.isfinite(v) for v in losses)
    assert osp.isfile(tmp_path / 'work' / 'epoch_2.pth')
