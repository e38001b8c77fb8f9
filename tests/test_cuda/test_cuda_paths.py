"""The CUDA paths: model losses, PHA's neck against the CPU, AMP steps.

Skipped without a CUDA device. ``MMPHA_CUDA_TEST_DEVICE=cpu`` runs them on
the CPU instead, to check the tests themselves on a machine without one.
"""
import copy
import os

import pytest
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from mmpha.apis.benchmark import make_reid_batch
from mmpha.registry import MODELS

DEVICE = os.environ.get('MMPHA_CUDA_TEST_DEVICE', 'cuda')
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        DEVICE == 'cuda' and not torch.cuda.is_available(),
        reason='needs a CUDA device')
]

NUM_CLASSES = 8
IMG_SIZE = (64, 32)


def _model_cfg(algo):
    cfg = dict(
        type=algo,
        backbone=dict(
            type='TransReIDViT',
            arch=dict(
                embed_dims=64,
                num_layers=3,
                num_heads=4,
                feedforward_channels=128),
            img_size=IMG_SIZE,
            patch_size=8,
            stride=6,
            camera_num=3),
        jpm=dict(type='JPM', num_parts=2),
        head=dict(
            type='ReIDHead',
            num_classes=NUM_CLASSES,
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_triplet=dict(type='TripletLoss', margin=None)))
    return cfg


def _build(algo, device=DEVICE, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(_model_cfg(algo))
    model.init_weights()
    return model.to(device).train()


def _batch(device=DEVICE, batch_size=8, seed=0):
    return make_reid_batch(
        batch_size,
        2,
        IMG_SIZE,
        num_classes=NUM_CLASSES,
        num_cameras=3,
        device=device,
        seed=seed)


@pytest.mark.parametrize('algo', ['ReIDModel', 'PHA'])
def test_train_step_on_device(algo):
    model = _build(algo)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    before = {k: v.clone() for k, v in model.named_parameters()}
    log_vars = model.train_step(_batch(), optim)
    assert all(p.device.type == DEVICE for p in model.parameters())
    expected = {'loss', 'loss_cls', 'loss_triplet'}
    if algo == 'PHA':
        expected |= {'loss_pc_bc', 'loss_pc_ab', 'loss_hf_x_cls'}
    assert expected <= set(log_vars)
    for name, value in log_vars.items():
        assert torch.isfinite(value).all(), (name, value)
    # Every trainable parameter moved: each one got a gradient.
    unchanged = [
        k for k, p in model.named_parameters()
        if p.requires_grad and torch.equal(p, before[k])
    ]
    assert unchanged == []


def test_predict_matches_cpu():
    model = _build('PHA').eval()
    cpu_model = copy.deepcopy(model).to('cpu')
    batch = _batch()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        feats = model(data['inputs'], data['data_samples'], mode='tensor')
        cpu_batch = _batch(device='cpu')
        cpu_data = cpu_model.data_preprocessor(cpu_batch, False)
        cpu_feats = cpu_model(
            cpu_data['inputs'], cpu_data['data_samples'], mode='tensor')
    assert feats.shape == (8, model.feat_dim)
    torch.testing.assert_close(feats.cpu(), cpu_feats, rtol=1e-3, atol=1e-4)


def test_pha_neck_matches_cpu():
    neck = MODELS.build(dict(type='PHANeck', patch_size=16, stride=12))
    gen = torch.Generator().manual_seed(0)
    x01 = torch.rand(4, 3, 128, 64, generator=gen)
    x_hf_cpu, keep_cpu = neck(x01)
    x_hf_dev, keep_dev = neck(x01.to(DEVICE))
    assert x_hf_dev.device.type == DEVICE
    torch.testing.assert_close(x_hf_dev.cpu(), x_hf_cpu, rtol=0, atol=1e-5)
    # A 10 x 5 grid at 128x64 (patch 16, stride 12): 40 % is 20 patches.
    assert keep_dev.shape == keep_cpu.shape == (4, 20)
    # Patch energies equal up to float rounding: allow a swap at the cut.
    same = [
        len(set(a.tolist()) & set(b.tolist()))
        for a, b in zip(keep_dev.cpu(), keep_cpu)
    ]
    assert min(same) >= keep_cpu.shape[1] - 1


def test_amp_steps_stay_finite():
    if DEVICE != 'cuda':
        pytest.skip('float16 mixed precision is a CUDA path')
    model = _build('PHA')
    optim = AmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
        loss_scale='dynamic')
    losses = []
    for step in range(4):
        log_vars = model.train_step(_batch(seed=step % 2), optim)
        for name, value in log_vars.items():
            assert torch.isfinite(value).all(), (step, name, value)
        losses.append(float(log_vars['loss']))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert optim.loss_scaler.get_scale() > 0
    # The same two batches again after three updates: the loss went down.
    assert losses[2] < losses[0]


def test_benchmark_reports_device_memory():
    from mmengine.config import Config

    from mmpha.apis.benchmark import benchmark_train_step
    cfg = Config(dict(model=_model_cfg('PHA')))
    result = benchmark_train_step(
        cfg,
        batch_size=8,
        num_instances=2,
        iters=2,
        warmup=1,
        device=DEVICE,
        profile_iters=1)
    assert result['median_ms'] > 0
    assert result['split']['frequency_forward'] > 0
    assert result['split']['backbone_backward'] > 0
    if DEVICE == 'cuda':
        assert result['memory_kind'] == 'CUDA max allocated'
    assert result['peak_mib'] > 0
