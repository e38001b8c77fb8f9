"""FLOPs and inference parameters of the tiny TransReID and PHA models."""
import pytest
from _tiny_reid import TINY_ARCH, TINY_LAYERS

from mmpha.apis import get_complexity, init_model


@pytest.fixture(scope='module')
def models(tiny_files):
    return {
        name: init_model(tiny_files[f'{name}_cfg'], tiny_files[f'{name}_ckpt'])
        for name in ('transreid', 'pha')
    }


def _expected_flops(h, w, patch=16, stride=12, parts=4):
    c, f = TINY_ARCH['embed_dims'], TINY_ARCH['feedforward_channels']
    hp, wp = (h - patch) // stride + 1, (w - patch) // stride + 1
    n = hp * wp

    def block(t):
        linear = 2 * t * c * (3 * c + c + 2 * f)
        attention = 2 * t * t * c * 2
        return linear + attention

    embed = 2 * n * c * 3 * patch * patch
    jpm = parts * block(1 + n // parts)
    return embed + TINY_LAYERS * block(1 + n) + jpm


def test_complexity_transreid_equals_pha(models):
    shape = (128, 64)
    info = {name: get_complexity(m, shape) for name, m in models.items()}
    assert info['transreid']['flops'] == _expected_flops(*shape)
    assert info['transreid']['macs'] * 2 == info['transreid']['flops']
    for key in ('flops', 'inference_params'):
        assert info['transreid'][key] == info['pha'][key], key
    # PHA's HF branches add training-only parameters.
    assert info['pha']['total_params'] > info['transreid']['total_params']
    # Classifiers are training-only in TransReID too.
    classifier = sum(
        p.numel() for p in models['transreid'].head.classifiers.parameters())
    assert (info['transreid']['total_params'] -
            info['transreid']['inference_params']) >= classifier
    assert info['transreid']['flops_str'].endswith('M')
