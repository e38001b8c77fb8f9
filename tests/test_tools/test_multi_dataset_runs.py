"""The combined-training and cross-domain configs train through
tools/train.py and test through tools/test.py on tiny SynthReIDs, with one
set of metrics per test set and the best checkpoint chosen on a named one."""
import glob
import json
import os.path as osp
import re
import uuid

import pytest
import torch
from _tiny_reid import TINY_ARCH, TINY_SPEC, run_tool
from mmengine.config import Config

COMBINED_CFG = ('configs/cross_domain/transreid_vit-tiny-p16-s12_scratch_'
                '1xb32-8x4_16e_synthreid+synthreid-s1-128x64.py')
CROSS_CFG = ('configs/cross_domain/transreid_vit-tiny-p16-s12_scratch_'
             '1xb32-8x4_16e_synthreid-to-synthreid-s1-128x64.py')
#: The stand-in datasets: two SynthReIDs of other seeds, 2 train ids each.
SEEDS = (0, 1)
EPOCHS = 2


@pytest.fixture(scope='module')
def synth_roots(tmp_path_factory):
    from mmpha.datasets.synthreid import SynthReIDSpec, ensure_synthreid
    base = tmp_path_factory.mktemp('multi_synth')
    roots = {}
    for seed in SEEDS:
        roots[seed] = str(base / f'seed{seed}')
        ensure_synthreid(
            roots[seed], seed=seed, spec=SynthReIDSpec(**TINY_SPEC))
    return roots


def _patch(node, roots):
    """Point each SynthReID at the tiny data of its seed; no workers."""
    if isinstance(node, dict):
        if node.get('type') == 'SynthReID':
            node['data_root'] = roots[node.get('seed', 0)]
            node['spec'] = dict(TINY_SPEC)
            node['auto_generate'] = False
        if 'num_workers' in node:
            node['num_workers'] = 0
            node['persistent_workers'] = False
        for value in node.values():
            _patch(value, roots)
    elif isinstance(node, list):
        for value in node:
            _patch(value, roots)


def _tiny(repo_root, rel, roots, tmp_path, **hooks):
    cfg = Config.fromfile(osp.join(repo_root, rel))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _patch(cfg[key], roots)
    cfg.model.backbone.arch = dict(TINY_ARCH)
    # P x K = 2 x 2: each tiny SynthReID has 2 training ids of 4 images.
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.batch_sampler.num_instances = 2
    cfg.val_dataloader.batch_size = cfg.test_dataloader.batch_size = 16
    cfg.train_cfg.max_epochs = EPOCHS
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint.update(interval=EPOCHS, **hooks)
    cfg.default_hooks.logger.interval = 1
    cfg.experiment_name = f'multi_{uuid.uuid4().hex[:12]}'
    path = str(tmp_path / osp.basename(rel))
    cfg.dump(path)
    return path


def _val_scalars(work_dir):
    """The validation records of scalars.json, one per epoch."""
    (path, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if any(k.endswith('/mAP') for k in r)]


def _train_and_test(repo_root, rel, roots, tmp_path, monkeypatch, save_best):
    cfg = _tiny(repo_root, rel, roots, tmp_path, save_best=save_best)
    work = str(tmp_path / 'work')
    run_tool(repo_root, 'tools/train.py', [cfg, '--work-dir', work],
             monkeypatch)
    vals = _val_scalars(work)
    assert len(vals) == EPOCHS
    # The first epoch of the highest score wins (a tie is no improvement).
    scores = [v[save_best] for v in vals]
    best_epoch = scores.index(max(scores)) + 1
    (best, ) = glob.glob(osp.join(work, 'best_*.pth'))
    tag = save_best.replace('/', '_')
    assert osp.basename(best) == f'best_{tag}_epoch_{best_epoch}.pth'
    ckpt = torch.load(best, map_location='cpu', weights_only=False)
    assert ckpt['message_hub']['runtime_info']['best_score'] == \
        pytest.approx(max(scores))

    test_work = str(tmp_path / 'test')
    out = str(tmp_path / 'feats.pth')
    run_tool(repo_root, 'tools/test.py',
             [cfg, best, '--work-dir', test_work, '--out', out], monkeypatch)
    dump = torch.load(out, weights_only=True)
    # The dump says which test set each query and gallery row belongs to.
    per_set = TINY_SPEC['num_ids'] - TINY_SPEC['num_train_ids']
    assert dump['q_test_sets'] == ['synthreid'] * (
        per_set * TINY_SPEC['cams_per_id']) + ['synthreid_s1'] * (
            per_set * TINY_SPEC['cams_per_id'])
    assert len(dump['g_test_sets']) == dump['gallery_feats'].shape[0]
    (log, ) = glob.glob(osp.join(test_work, '*', '*.log'))
    with open(log) as f:
        text = f.read()
    line = [t for t in text.splitlines() if 'Epoch(test)' in t][-1]
    tested = {
        k: float(v)
        for k, v in re.findall(r'(\w+/\w+): (-?[\d.]+)', line)
    }
    # The best checkpoint's weights score on every test set what they
    # scored at their epoch.
    expected = {
        k: v
        for k, v in vals[best_epoch - 1].items()
        if '/' in k and k.split('/')[0] in ('synthreid', 'synthreid_s1')
    }
    assert set(expected) == set(tested) and len(expected) >= 10
    for key, value in expected.items():
        assert tested[key] == pytest.approx(value, abs=0.01), key
    return ckpt


def test_combined_training_and_per_dataset_metrics(repo_root, synth_roots,
                                                   tmp_path, monkeypatch):
    ckpt = _train_and_test(repo_root, COMBINED_CFG, synth_roots, tmp_path,
                           monkeypatch, 'synthreid_s1/mAP')
    state = ckpt['state_dict']
    # num_classes='auto' and camera_num='auto': 2 + 2 training identities,
    # 2 + 2 cameras of the two SynthReIDs.
    ids = len(SEEDS) * TINY_SPEC['num_train_ids']
    cams = len(SEEDS) * TINY_SPEC['num_cameras']
    assert state['head.classifiers.0.weight'].shape[0] == ids
    sie = [v for k, v in state.items() if 'sie' in k or 'cam_embed' in k]
    assert sie and sie[0].shape[0] == cams
    saved = Config.fromstring(ckpt['meta']['cfg'], file_format='.py')
    assert saved.model.head.num_classes == ids
    assert saved.model.backbone.camera_num == cams


def test_cross_domain_run(repo_root, synth_roots, tmp_path, monkeypatch):
    ckpt = _train_and_test(repo_root, CROSS_CFG, synth_roots, tmp_path,
                           monkeypatch, 'synthreid/mAP')
    assert ckpt['state_dict']['head.classifiers.0.weight'].shape[0] == \
        TINY_SPEC['num_train_ids']


def test_save_best_without_the_prefix_is_a_clear_error(repo_root, synth_roots,
                                                       tmp_path, monkeypatch):
    cfg = _tiny(repo_root, CROSS_CFG, synth_roots, tmp_path, save_best='mAP')
    with pytest.raises(
            ValueError,
            match=r"save_best names \['mAP'\].*"
            r"'synthreid/mAP'.*save_best=\"market1501/mAP\""):
        run_tool(repo_root, 'tools/train.py',
                 [cfg, '--work-dir', str(tmp_path / 'w')], monkeypatch)


def test_init_model_reads_the_auto_sizes(repo_root, synth_roots, tmp_path):
    from mmpha.apis import init_model
    cfg = _tiny(
        repo_root,
        COMBINED_CFG,
        synth_roots,
        tmp_path,
        save_best='synthreid/mAP')
    model = init_model(cfg)
    ids = len(SEEDS) * TINY_SPEC['num_train_ids']
    assert model.head.num_classes == ids
    assert model.cfg.model.head.num_classes == ids
    assert model.backbone.camera_num == len(SEEDS) * TINY_SPEC['num_cameras']
