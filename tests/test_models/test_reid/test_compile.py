"""``torch.compile`` of the training forward gives the eager losses and
gradients (``cfg.compile`` / ``tools/train.py --compile``: MMEngine's
Runner compiles ``model.train_step``). The ``aot_eager`` backend keeps the
test fast on the CPU: it traces with Dynamo and AOT autograd, as inductor
does, without generating kernels."""
import pytest
import torch
from _tiny_reid import PHA_CFG, TINY_ARCH, TRANSREID_CFG
from mmengine.config import Config

from mmpha.apis.benchmark import (build_benchmark_model, input_size_of,
                                  make_reid_batch, model_config)

compile_ok = hasattr(torch, 'compile') and hasattr(torch, '_dynamo')


# Tens of seconds of tracing per model on 2 CPU cores.
@pytest.mark.slow
@pytest.mark.skipif(not compile_ok, reason='torch.compile is unavailable')
@pytest.mark.parametrize('rel_path', [TRANSREID_CFG, PHA_CFG])
def test_compiled_loss_equals_eager(repo_root, rel_path):
    cfg = Config.fromfile(f'{repo_root}/{rel_path}')
    cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.model.backbone.drop_path_rate = 0.0
    model = build_benchmark_model(cfg)
    mc = model_config(cfg)
    batch = make_reid_batch(8, 4, input_size_of(mc), mc.head.num_classes)
    data = model.data_preprocessor(batch, True)

    def losses_and_grads(forward):
        model.zero_grad()
        torch.manual_seed(0)
        losses = forward(**data, mode='loss')
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        total.backward()
        grads = {
            n: p.grad.clone()
            for n, p in model.named_parameters() if p.grad is not None
        }
        return {k: v.detach() for k, v in losses.items()}, grads

    torch._dynamo.reset()
    eager_losses, eager_grads = losses_and_grads(model)
    compiled = torch.compile(model, backend='aot_eager')
    for _ in range(2):  # the second call reuses the compiled graphs
        losses, grads = losses_and_grads(compiled)
        assert losses.keys() == eager_losses.keys()
        for key, value in eager_losses.items():
            torch.testing.assert_close(
                losses[key], value, rtol=1e-4, atol=1e-5, msg=key)
        assert grads.keys() == eager_grads.keys()
        for name, grad in eager_grads.items():
            torch.testing.assert_close(
                grads[name], grad, rtol=1e-3, atol=1e-5, msg=name)
    torch._dynamo.reset()
