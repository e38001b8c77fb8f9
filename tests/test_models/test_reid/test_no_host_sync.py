"""The training forward of TransReID and PHA never reads device values on
the host, so that on a GPU the step does not wait for the device.

Two checks on the tiny configs: on the ``meta`` device, where any read of a
tensor's value (``.item()``, ``bool()``, ``.tolist()``, ``nonzero``,
``bincount`` and the like) is an error, the whole ``mode='loss'`` forward
runs; and on the CPU with ``Tensor.item`` / ``tolist`` / ``cpu`` /
``numpy`` made to raise. MMEngine reads the logged scalars after the step
(``RuntimeInfoHook.after_train_iter`` -> ``MessageHub.update_scalars``), one
synchronisation per iteration outside the forward, backward and update.
"""
import contextlib

import pytest
import torch
from _tiny_reid import PHA_CFG, TINY_ARCH, TRANSREID_CFG
from mmengine.config import Config

from mmpha.apis.benchmark import (build_benchmark_model, input_size_of,
                                  make_reid_batch, model_config)


def _model_and_batch(repo_root, rel_path):
    cfg = Config.fromfile(f'{repo_root}/{rel_path}')
    cfg.model.backbone.arch = dict(TINY_ARCH)
    # SIE on, to include the camera ids in the check.
    cfg.model.backbone.camera_num = 2
    model = build_benchmark_model(cfg)
    mc = model_config(cfg)
    batch = make_reid_batch(
        8, 4, input_size_of(mc), mc.head.num_classes, num_cameras=2)
    return model, model.data_preprocessor(batch, True)


@pytest.mark.parametrize('rel_path', [TRANSREID_CFG, PHA_CFG])
def test_loss_forward_runs_on_the_meta_device(repo_root, rel_path,
                                              monkeypatch):
    model, data = _model_and_batch(repo_root, rel_path)
    model.to('meta')
    data['inputs'] = data['inputs'].to('meta')
    # torch.autocast does not accept the meta device (the wavelet transform
    # turns autocast off around itself): a no-op there, unchanged elsewhere.
    autocast = torch.autocast

    def meta_autocast(device_type, *args, **kwargs):
        if device_type == 'meta':
            return contextlib.nullcontext()
        return autocast(device_type, *args, **kwargs)

    monkeypatch.setattr(torch, 'autocast', meta_autocast)
    losses = model(**data, mode='loss')
    assert 'loss_cls' in losses and 'loss_triplet' in losses
    if rel_path == PHA_CFG:
        assert 'loss_pc_bc' in losses and 'loss_hf_x_cls' in losses
    assert all(v.device.type == 'meta' for v in losses.values())


@pytest.mark.parametrize('rel_path', [TRANSREID_CFG, PHA_CFG])
def test_loss_forward_reads_no_value(repo_root, rel_path, monkeypatch):
    model, data = _model_and_batch(repo_root, rel_path)

    def refuse(name):

        def read(self, *args, **kwargs):
            raise AssertionError(f'Tensor.{name}() inside the training step')

        return read

    for name in ('item', 'tolist', 'cpu', 'numpy'):
        monkeypatch.setattr(torch.Tensor, name, refuse(name))
    losses = model(**data, mode='loss')
    monkeypatch.undo()
    assert all(torch.isfinite(v).all() for v in losses.values())
