import re

import pytest
from mmengine import DefaultScope

import mmpha
from mmpha.registry import (DATA_SAMPLERS, DATASETS, EVALUATORS, HOOKS,
                            METRICS, MODELS, OPTIM_WRAPPERS, TRANSFORMS)
from mmpha.utils import register_all_modules


def test_registries_are_scoped_children_of_mmpretrain():
    import mmpretrain.registry as mmpretrain_registry
    for child, parent in [(MODELS, mmpretrain_registry.MODELS),
                          (DATASETS, mmpretrain_registry.DATASETS),
                          (TRANSFORMS, mmpretrain_registry.TRANSFORMS),
                          (METRICS, mmpretrain_registry.METRICS),
                          (HOOKS, mmpretrain_registry.HOOKS),
                          (EVALUATORS, mmpretrain_registry.EVALUATORS),
                          (DATA_SAMPLERS, mmpretrain_registry.DATA_SAMPLERS)]:
        assert child.scope == 'mmpha', child
        assert child.parent is parent, child


def test_parent_modules_found_without_prefix():
    register_all_modules()
    from mmpretrain.models import CrossEntropyLoss, VisionTransformer
    assert MODELS.get('VisionTransformer') is VisionTransformer
    assert MODELS.get('CrossEntropyLoss') is CrossEntropyLoss
    assert TRANSFORMS.get('LoadImageFromFile') is not None
    assert TRANSFORMS.get('RandomErasing') is not None
    assert HOOKS.get('CheckpointHook') is not None
    assert OPTIM_WRAPPERS.get('AmpOptimWrapper') is not None
    loss = MODELS.build(dict(type='CrossEntropyLoss', loss_weight=0.5))
    assert isinstance(loss, CrossEntropyLoss)
    assert loss.loss_weight == 0.5


def test_register_all_modules_sets_default_scope():
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'mmpha'


def test_version_and_range_check():
    assert re.fullmatch(r'\d+\.\d+\.\d+.*', mmpha.__version__)
    mmpha.check_version('mmengine', '0.10.7', '0.10.0', '1.0.0')
    with pytest.raises(
            ImportError,
            match=r'mmengine==0\.9\.0 is installed.*'
            r'mmengine>=0\.10\.0,<1\.0\.0.*pip install'):
        mmpha.check_version('mmengine', '0.9.0', '0.10.0', '1.0.0')
    with pytest.raises(ImportError, match=r'mmcv==2\.3\.0.*mmcv-lite'):
        mmpha.check_version('mmcv', '2.3.0', '2.0.0', '2.3.0')


def test_declared_ranges_match_mminstall(repo_root):
    import os.path as osp
    with open(osp.join(repo_root, 'requirements', 'mminstall.txt')) as f:
        lines = [line.strip() for line in f if line.strip()]
    expected = {
        'mmcv-lite': f'>={mmpha.MMCV_MIN},<{mmpha.MMCV_MAX}',
        'mmengine': f'>={mmpha.MMENGINE_MIN},<{mmpha.MMENGINE_MAX}',
        'mmpretrain': f'>={mmpha.MMPRETRAIN_MIN},<{mmpha.MMPRETRAIN_MAX}',
    }
    found = {}
    for line in lines:
        name = re.match(r'[A-Za-z0-9_\-]+', line).group(0)
        found[name] = line[len(name):]
    assert found == expected
