"""tools/misc/run_synthreid_experiment.py: configs, collection, table."""
import importlib.util
import json
import os
import os.path as osp

import pytest


@pytest.fixture
def experiment(repo_root):
    spec = importlib.util.spec_from_file_location(
        'mmpha_synthreid_experiment',
        osp.join(repo_root, 'tools', 'misc', 'run_synthreid_experiment.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_run(root, name, seed, records, wall_s=None):
    run = osp.join(root, f'{name}_s{seed}', '20260101_000000', 'vis_data')
    os.makedirs(run)
    with open(osp.join(run, 'scalars.json'), 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')
    if wall_s is not None:
        with open(osp.join(root, f'{name}_s{seed}', 'wall_s.txt'), 'w') as f:
            f.write(f'{wall_s}\n')


def test_every_config_of_the_grid_exists(experiment, repo_root):
    assert list(experiment.CONFIGS)[:2] == ['transreid', 'pha']
    for name, path in experiment.CONFIGS.items():
        assert osp.isfile(osp.join(repo_root, path)), path
        assert osp.basename(path).split('_vit')[0] == name


def test_collect_reads_the_last_validation(experiment, tmp_path):
    root = str(tmp_path)
    _fake_run(
        root,
        'pha',
        0, [
            dict(loss=3.0, step=1),
            dict(mAP=10.0, R1=20.0, step=8),
            dict(loss=2.0, step=9),
            dict(mAP=30.0, R1=40.0, step=16),
        ],
        wall_s=100.0)
    _fake_run(root, 'pha', 1, [dict(mAP=34.0, R1=44.0, step=16)], 120.0)
    # A run without a validation is left out.
    _fake_run(root, 'transreid', 0, [dict(loss=1.0, step=1)])
    records = experiment.collect(['transreid', 'pha'], [0, 1, 2], root)
    assert [(r['name'], r['seed'], r['mAP'], r['R1'])
            for r in records] == [('pha', 0, 30.0, 40.0),
                                  ('pha', 1, 34.0, 44.0)]
    table = experiment.markdown_table(records, ['transreid', 'pha'])
    lines = table.splitlines()
    assert len(lines) == 3
    # mean 32, sample std 2.83; R1 mean 42, std 2.83; wall mean 110 s.
    assert lines[2] == ('| pha | 0,1 | 32.0 ± 2.8 | 42.0 ± 2.8 | '
                        '30.0 / 34.0 | 40.0 / 44.0 | 110 s |')


def test_one_seed_has_no_spread(experiment, tmp_path):
    root = str(tmp_path)
    _fake_run(root, 'transreid', 2, [dict(mAP=5.0, R1=6.0, step=1)])
    records = experiment.collect(['transreid'], [2], root)
    table = experiment.markdown_table(records, ['transreid'])
    assert '| transreid | 2 | 5.0 ± n/a | 6.0 ± n/a |' in table
    assert table.endswith('| n/a |')
