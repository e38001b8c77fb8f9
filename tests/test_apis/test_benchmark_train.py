"""The training-step benchmark: stage attribution, memory, batch, tool."""
import json
import os.path as osp
import sys
import time

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from torch import nn

from mmpha.apis.benchmark import (StageProfiler, benchmark_train_pair,
                                  benchmark_train_step, make_reid_batch,
                                  peak_rss_mib, stage_breakdown)
from mmpha.registry import MODELS

NECK_SLEEP = 0.04
BLOCK_BWD_SLEEP = 0.03


class _SlowBackward(torch.autograd.Function):
    """Identity whose backward takes a known time."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        time.sleep(BLOCK_BWD_SLEEP)
        return grad


class _ToyBackbone(nn.Module):

    def __init__(self, dims=8):
        super().__init__()
        self.proj = nn.Linear(3, dims)
        self.block = nn.Linear(dims, dims)

    def embed(self, x):
        return self.proj(x.flatten(2).mean(-1))

    def forward_blocks(self, tokens):
        return _SlowBackward.apply(self.block(tokens))


class _ToyNeck(nn.Module):

    @torch.no_grad()
    def forward(self, x):
        time.sleep(NECK_SLEEP)
        return x.flip(-1)


@MODELS.register_module(force=True)
class _BenchToyModel(BaseModel):

    def __init__(self,
                 num_classes,
                 img_size,
                 with_neck=True,
                 data_preprocessor=None,
                 init_cfg=None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.img_size = img_size
        self.backbone = _ToyBackbone()
        self.neck = _ToyNeck() if with_neck else None
        self.head = nn.Linear(8, num_classes)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert tuple(inputs.shape[-2:]) == tuple(self.img_size)
        feats = self.backbone.forward_blocks(self.backbone.embed(inputs))
        if self.neck is not None:
            x_hf = self.neck(inputs)
            feats = feats + self.backbone.forward_blocks(
                self.backbone.embed(x_hf))
        labels = torch.cat([s.gt_label for s in data_samples])
        return dict(loss_ce=F.cross_entropy(self.head(feats), labels))


def _toy_cfg(with_neck=True):
    return Config(
        dict(
            model=dict(
                type='_BenchToyModel',
                num_classes=10,
                img_size=(8, 4),
                with_neck=with_neck,
                init_cfg=dict(type='Pretrained', checkpoint='missing.pth')),
            data_preprocessor=dict(type='ReIDDataPreprocessor')))


def test_stage_split_attributes_forward_and_backward_time():
    result = benchmark_train_step(
        _toy_cfg(), batch_size=8, num_instances=2, iters=2, warmup=1)
    split = result['split']
    # The neck sleeps once a step, without gradient; the sleeps of the
    # backward nodes are not counted in it.
    assert NECK_SLEEP * 1e3 <= split['frequency_forward'] < \
        (NECK_SLEEP + BLOCK_BWD_SLEEP) * 1e3
    assert split['frequency_backward'] == 0.0
    # Two forward_blocks calls, each with a slow backward node.
    assert split['backbone_backward'] >= 2 * BLOCK_BWD_SLEEP * 1e3
    parts = stage_breakdown(result)
    assert parts['heads and losses backward'] < \
        parts['backbone backward'] / 2
    total = sum(v for k, v in parts.items() if k != 'step')
    assert total == pytest.approx(parts['step'], rel=1e-6)
    assert result['shapes']['backbone:embed'] == [(8, 3, 8, 4)] * 2
    assert result['shapes']['backbone:forward_blocks'] == [(8, 8)] * 2
    assert result['missing_stages'] == []
    assert result['profiled_inline'] and len(result['step_ms']) == 2
    assert result['memory_kind'] == 'peak RSS'
    assert result['peak_mib'] >= result['rss_before_build_mib'] > 0


def test_pair_alternates_steps_and_skips_memory():
    res_a, res_b = benchmark_train_pair(
        _toy_cfg(with_neck=False),
        _toy_cfg(),
        batch_size=4,
        num_instances=2,
        iters=2,
        warmup=0)
    assert len(res_a['step_ms']) == len(res_b['step_ms']) == 2
    assert res_a['missing_stages'] == ['neck:forward']
    assert res_b['split']['frequency_forward'] >= NECK_SLEEP * 1e3
    assert res_b['median_ms'] > res_a['median_ms']
    assert res_a['memory_kind'] == res_b['memory_kind'] == 'not measured'


def test_profiler_handles_missing_stage_and_restores_methods():
    from mmpha.registry import MODELS as registry
    model = registry.build(
        dict(
            type='_BenchToyModel',
            num_classes=4,
            img_size=(8, 4),
            with_neck=False,
            data_preprocessor=dict(type='ReIDDataPreprocessor')))
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    profiler = StageProfiler(
        model, torch.device('cpu'), spans=dict(optimizer=(optim, 'step')))
    batch = make_reid_batch(4, 2, (8, 4), num_classes=4)
    from mmengine.optim import OptimWrapper
    with profiler:
        assert 'embed' in vars(model.backbone)
        profiler.start_step()
        model.train_step(batch, OptimWrapper(optim))
        figures = profiler.end_step()
    assert profiler.missing == ['neck:forward']
    assert 'embed' not in vars(model.backbone)
    assert 'step' not in vars(optim)
    assert figures['stages']['frequency']['calls'] == 0
    assert figures['stages']['backbone']['calls'] == 2
    assert figures['spans']['optimizer'] > 0
    assert figures['step_ms'] >= figures['spans']['optimizer']


def test_profiler_rejects_bad_targets():
    with pytest.raises(ValueError, match='backbone.embed'):
        StageProfiler(
            nn.Linear(1, 1),
            torch.device('cpu'),
            stages=dict(backbone=['backbone.embed']))
    with pytest.raises(TypeError, match='neck:forward'):
        StageProfiler(
            nn.Linear(1, 1),
            torch.device('cpu'),
            stages=dict(frequency='neck:forward'))


def test_make_reid_batch_is_p_by_k():
    batch = make_reid_batch(12, 4, (16, 8), num_classes=50, num_cameras=6)
    labels = [int(s.gt_label) for s in batch['data_samples']]
    assert len(labels) == 12 and len(set(labels)) == 3
    assert all(labels[i] == labels[i // 4 * 4] for i in range(12))
    assert all(0 <= s.cam_id < 6 for s in batch['data_samples'])
    assert batch['inputs'][0].shape == (3, 16, 8)
    assert batch['inputs'][0].dtype == torch.uint8
    again = make_reid_batch(12, 4, (16, 8), num_classes=50, num_cameras=6)
    assert torch.equal(batch['inputs'][5], again['inputs'][5])
    with pytest.raises(ValueError, match='batch_size=10'):
        make_reid_batch(10, 4, (16, 8), num_classes=50)
    with pytest.raises(ValueError, match='num_classes >= 3'):
        make_reid_batch(12, 4, (16, 8), num_classes=2)


def test_benchmark_rejects_bad_arguments():
    with pytest.raises(ValueError, match="'tpu'"):
        benchmark_train_step(_toy_cfg(), device='tpu')
    with pytest.raises(ValueError, match='amp'):
        benchmark_train_step(_toy_cfg(), amp=True)
    with pytest.raises(ValueError, match='iters'):
        benchmark_train_step(_toy_cfg(), iters=0)


def test_peak_rss_grows_with_allocation():
    before = peak_rss_mib()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB touched
    assert peak_rss_mib() >= before
    assert peak_rss_mib() > 32
    del block


def test_tool_prints_ratio_last(tmp_path, capsys, repo_root):
    sys.path.insert(0, osp.join(repo_root, 'tools', 'analysis_tools'))
    try:
        import benchmark_train
    finally:
        sys.path.pop(0)
    for name, with_neck in (('a', False), ('b', True)):
        with open(tmp_path / f'{name}.py', 'w') as f:
            f.write("model = dict(type='_BenchToyModel', num_classes=10, "
                    f'img_size=(8, 4), with_neck={with_neck}, '
                    "data_preprocessor=dict(type='ReIDDataPreprocessor'))\n")
    out_json = tmp_path / 'bench.json'
    benchmark_train.main([
        str(tmp_path / 'a.py'),
        str(tmp_path / 'b.py'), '--batch-size', '4', '--num-instances', '2',
        '--iters', '2', '--device', 'cpu', '--in-process', '--json-out',
        str(out_json), '--cfg-options', 'model.num_classes=12'
    ])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith('ratio B/A: ')
    ratio = float(lines[-1].split(': ')[1])
    with open(out_json) as f:
        figures = json.load(f)
    assert ratio == pytest.approx(
        figures['B']['median_ms'] / figures['A']['median_ms'], abs=1e-3)
    # A has one 30 ms backward node; B adds a 40 ms neck and a second one.
    assert figures['B']['median_ms'] >= 100
    assert figures['A']['split']['backbone_backward'] >= 30
    assert figures['A']['img_size'] == [8, 4]
    assert lines[-2].startswith('frequency share: ')
    share = float(lines[-2].split(': ')[1].rstrip('%'))
    assert share == pytest.approx(figures['frequency_share'], abs=0.01)
    assert share > 10
    assert figures['breakdown_A']['frequency'] == 0.0
