"""``end=None`` schedules follow ``train_cfg.max_epochs``; loop lengths are
checked when the config is read."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmpha.utils import apply_run_options
from mmpha.utils.config_check import (check_max_epochs_override,
                                      check_train_length,
                                      resolve_scheduler_ends)


def _leaf_configs(repo_root):
    paths = sorted(glob.glob(osp.join(repo_root, 'configs', '*', '*.py')))
    return [p for p in paths if '_base_' not in p]


def test_every_shipped_cosine_follows_max_epochs(repo_root):
    configs = _leaf_configs(repo_root)
    assert len(configs) > 10
    for path in configs:
        original = Config.fromfile(path)
        cfg = Config.fromfile(path)
        apply_run_options(cfg, path, {'train_cfg.max_epochs': 7})
        assert cfg.train_cfg.max_epochs == 7
        cosines = [s for s in cfg.param_scheduler if 'Cosine' in s['type']]
        if not cosines:
            # A step schedule (BoT): its last scheduler ends with the run,
            # the milestones stay as written.
            assert cfg.param_scheduler[-1]['type'] == 'MultiStepLR', path
            assert cfg.param_scheduler[-1]['end'] == 7, path
            assert (cfg.param_scheduler[-1]['milestones'] ==
                    original.param_scheduler[-1]['milestones']), path
            continue
        assert len(cosines) == 1, path
        cosine = cosines[0]
        assert cosine['end'] == 7, path
        assert cosine['T_max'] == 7 - cosine['begin'], path
        # The warm-up's end is not derived from the epoch count.
        for before, after in zip(original.param_scheduler,
                                 cfg.param_scheduler):
            if 'Cosine' not in before['type']:
                assert after == before, path
        # Without the override the schedule is the config's own.
        plain = Config.fromfile(path)
        apply_run_options(plain, path)
        max_epochs = plain.train_cfg.max_epochs
        cosine = [s for s in plain.param_scheduler if 'Cosine' in s['type']][0]
        assert cosine['end'] == max_epochs
        assert cosine['T_max'] == max_epochs - cosine['begin']


def test_tiny_config_schedule_at_seven_epochs(repo_root):
    path = osp.join(
        repo_root, 'configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_'
        'synthreid-128x64.py')
    cfg = Config.fromfile(path)
    apply_run_options(cfg, path, {'train_cfg.max_epochs': 7})
    warmup, cosine = cfg.param_scheduler
    assert (warmup['begin'], warmup['end']) == (0, 1)
    assert (cosine['begin'], cosine['end'], cosine['T_max']) == (1, 7, 6)


@pytest.mark.parametrize('key', ['max_epochs', 'max_iters'])
@pytest.mark.parametrize('value', [0, -2, 1.5, True, '3'])
def test_non_positive_loop_length_is_refused(key, value):
    with pytest.raises(
            ValueError,
            match=f'train_cfg.{key} must be a '
            f'positive int, got {value!r}'):
        check_train_length(dict(train_cfg={key: value}))


def test_zero_max_epochs_override_is_refused_at_config_time(repo_root):
    path = osp.join(repo_root, 'configs/_base_/schedules/sgd_cosine_120e.py')
    cfg = Config.fromfile(path)
    with pytest.raises(ValueError, match='train_cfg.max_epochs .* got 0'):
        apply_run_options(cfg, path, {'train_cfg.max_epochs': 0})


def test_resolution_rules():
    scheds = [
        dict(type='LinearLR', by_epoch=True, begin=0, end=2),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=2, end=None),
        dict(
            type='MultiStepLR',
            by_epoch=True,
            begin=0,
            end=None,
            milestones=[3]),
    ]
    out = resolve_scheduler_ends(scheds, dict(max_epochs=10))
    assert out is scheds
    assert [s['end'] for s in scheds] == [2, 10, 10]
    assert scheds[1]['T_max'] == 8 and 'T_max' not in scheds[2]
    before = copy.deepcopy(scheds)
    resolve_scheduler_ends(scheds, dict(max_epochs=99))
    assert scheds == before  # resolved once, numbers stay
    # Per-iteration schedulers follow max_iters; per-optimiser dicts too.
    per_optim = dict(a=[
        dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=None)
    ])
    resolve_scheduler_ends(per_optim, dict(max_iters=1000))
    assert per_optim['a'][0]['end'] == 1000
    assert per_optim['a'][0]['T_max'] == 900
    with pytest.raises(
            ValueError, match=r'param_scheduler\[0\].*no '
            'max_iters'):
        resolve_scheduler_ends(
            [dict(type='LinearLR', by_epoch=False, end=None)],
            dict(max_epochs=3))
    with pytest.raises(
            ValueError, match='begins at 3 .* the schedule would '
            'be empty'):
        resolve_scheduler_ends(
            [dict(type='CosineAnnealingLR', begin=3, end=None)],
            dict(max_epochs=3))
    with pytest.raises(ValueError, match='T_max=5, which would not follow'):
        resolve_scheduler_ends(
            [dict(type='CosineAnnealingLR', T_max=5, end=None)],
            dict(max_epochs=3))


def test_numeric_end_equal_to_the_old_length_is_refused():
    cfg = Config(
        dict(
            train_cfg=dict(max_epochs=20),
            param_scheduler=[
                dict(type='LinearLR', end=5),
                dict(type='CosineAnnealingLR', begin=5, end=20, T_max=15)
            ]))
    before = dict(
        train_cfg=copy.deepcopy(cfg.train_cfg),
        param_scheduler=copy.deepcopy(cfg.param_scheduler))
    options = {'train_cfg.max_epochs': 8}
    cfg.merge_from_dict(options)
    with pytest.raises(
            ValueError,
            match=r'from 20 to 8, but '
            r'param_scheduler\[1\]\.end=20 still'):
        check_max_epochs_override(before, cfg, options)
    # Overriding the schedule too is the user's explicit choice.
    check_max_epochs_override(before, cfg, dict(options, param_scheduler=[]))
    # An unchanged length is fine.
    check_max_epochs_override(before, Config(before), {'a': 1})
