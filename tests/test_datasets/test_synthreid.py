"""SynthReID: deterministic generation, documented counts, safe caching."""
import hashlib
import json
import os
import os.path as osp
import threading
from collections import Counter

import pytest

from mmpha.datasets import SynthReID
from mmpha.datasets.synthreid import (GENERATOR_VERSION, SynthReIDSpec,
                                      ensure_synthreid, generate_synthreid)
from mmpha.registry import DATASETS

# 5 train + 3 test identities (one family of 2 in train), 3 cameras, 64x32.
TINY = dict(
    num_ids=8,
    num_train_ids=5,
    num_cameras=3,
    cams_per_id=2,
    imgs_per_cam=3,
    num_distractors=4,
    family_size=2,
    family_fraction=0.4,
    img_height=64,
    img_width=32)


def _read_all(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth') / 'synthreid')
    ensure_synthreid(root, seed=0, spec=SynthReIDSpec(**TINY))
    return root


def test_default_counts_as_documented():
    counts = SynthReIDSpec().counts()
    assert counts == dict(
        train_images=1200,
        query_images=300,
        gallery_images=1050,
        total_images=2550,
        train_ids=75,
        test_ids=75,
        distractors=150,
        cameras=6)


def test_same_seed_same_bytes(tiny_root, tmp_path):
    again = str(tmp_path / 'again')
    meta = generate_synthreid(
        again, seed=0, spec=SynthReIDSpec(**TINY), progress=False)
    first, second = _read_all(tiny_root), _read_all(again)
    assert sorted(first) == sorted(second)
    assert first == second
    # 5*2*3 train + 3*2 query + 3*2*2 + 4 gallery images + meta.json.
    assert len(first) == 30 + 6 + 16 + 1
    assert meta['counts']['total_images'] == 52


# Recorded with the generator before it was split into the
# mmpha.datasets.synthreid package (GENERATOR_VERSION 2): the images of a
# redesign must not move, or the README's quick-start figures move with them.
RECORDED_SPEC = dict(
    num_ids=6,
    num_train_ids=3,
    num_cameras=3,
    cams_per_id=2,
    imgs_per_cam=2,
    num_distractors=2,
    family_size=2,
    family_fraction=0.5,
    img_height=64,
    img_width=32)
RECORDED_IMAGES_SHA256 = (
    '69eb9872cb879396b3eb881e2065e4f087182503b76866a93920dc73547887aa')
RECORDED_META_SHA256 = (
    '6dd0892264886d66f06e7b8e442ac64a3cd451af1f86069a381905401d013c9f')


def test_bytes_equal_the_recorded_generation(tmp_path):
    root = str(tmp_path / 'recorded')
    generate_synthreid(
        root, seed=3, spec=SynthReIDSpec(**RECORDED_SPEC), progress=False)
    images = hashlib.sha256()
    count = 0
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(n for n in names if n.endswith('.jpg')):
            path = osp.join(dirpath, name)
            images.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                images.update(f.read())
            count += 1
    assert count == SynthReIDSpec(**RECORDED_SPEC).counts()['total_images']
    assert count == 26
    assert images.hexdigest() == RECORDED_IMAGES_SHA256
    with open(osp.join(root, 'meta.json'), 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == RECORDED_META_SHA256


def test_parallel_generation_same_bytes(tiny_root, tmp_path):
    par = str(tmp_path / 'par')
    generate_synthreid(
        par, seed=0, spec=SynthReIDSpec(**TINY), nproc=2, progress=False)
    assert _read_all(par) == _read_all(tiny_root)


def test_different_seeds_differ(tiny_root, tmp_path):
    other = str(tmp_path / 'seed1')
    generate_synthreid(
        other, seed=1, spec=SynthReIDSpec(**TINY), progress=False)
    a, b = _read_all(tiny_root), _read_all(other)
    common = [k for k in a if k in b and k.endswith('.jpg')]
    differing = sum(a[k] != b[k] for k in common)
    assert differing >= len(common) - 1 and differing > 0
    assert (json.loads(a['meta.json'])['train_pids']
            != json.loads(b['meta.json'])['train_pids'])


def test_splits_match_the_documented_structure(tiny_root):
    spec = SynthReIDSpec(**TINY)
    counts = spec.counts()
    train = SynthReID(tiny_root, 'train', spec=TINY)
    query = SynthReID(tiny_root, 'query', spec=TINY)
    gallery = DATASETS.build(
        dict(
            type='SynthReID', data_root=tiny_root, split='gallery', spec=TINY))
    assert len(train) == counts['train_images'] == 30
    assert len(query) == counts['query_images'] == 6
    assert len(gallery) == counts['gallery_images'] == 16
    assert train.metainfo['num_classes'] == 5
    assert train.metainfo['num_cameras'] == 3
    assert sorted(set(train.get_gt_labels().tolist())) == list(range(5))
    # Each train id: cams_per_id * imgs_per_cam images.
    assert set(Counter(train.get_gt_labels().tolist()).values()) == {6}
    q = [query.get_data_info(i) for i in range(len(query))]
    g = [gallery.get_data_info(i) for i in range(len(gallery))]
    # One query per (test id, camera); the rest of the test images and the
    # distractors (pid 0) in the gallery.
    q_keys = Counter((d['gt_label'], d['cam_id']) for d in q)
    assert set(q_keys.values()) == {1} and len(q_keys) == 6
    assert sum(d['gt_label'] == 0 for d in g) == 4
    g_keys = Counter(
        (d['gt_label'], d['cam_id']) for d in g if d['gt_label'] != 0)
    assert g_keys == Counter({k: 2 for k in q_keys})
    meta = json.load(open(osp.join(tiny_root, 'meta.json')))
    train_pids = set(meta['train_pids'])
    assert not train_pids & {d['gt_label'] for d in q}
    assert meta['families'] and all(len(f) == 2 for f in meta['families'])
    assert meta['seed'] == 0 and meta['version'] >= 1


def test_images_have_the_spec_size(tiny_root):
    ds = SynthReID(
        tiny_root,
        'query',
        spec=TINY,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackReIDInputs')])
    assert ds[0]['inputs'].shape == (3, 64, 32)


def test_cache_checks(tiny_root, tmp_path):
    with pytest.raises(ValueError, match=r"other settings .*'seed': \(0, 5\)"):
        SynthReID(tiny_root, 'train', seed=5, spec=TINY)
    with pytest.raises(FileNotFoundError, match='--out .*--seed 0'):
        SynthReID(str(tmp_path / 'none'), spec=TINY, auto_generate=False)
    # Generation is opt-in: a misspelled data_root creates nothing.
    with pytest.raises(
            FileNotFoundError,
            match=r'"[^"]*none2" does not exist\..*auto_generate=True'):
        SynthReID(str(tmp_path / 'none2'), spec=TINY)
    assert not osp.lexists(tmp_path / 'none2')
    junk = tmp_path / 'junk'
    junk.mkdir()
    (junk / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='has no meta.json'):
        SynthReID(str(junk), spec=TINY)
    assert (junk / 'notes.txt').read_text() == 'mine'


def test_incomplete_copy_is_detected(tmp_path):
    root = str(tmp_path / 'copy')
    ensure_synthreid(root, seed=0, spec=SynthReIDSpec(**TINY))
    victim = sorted(os.listdir(osp.join(root, 'query')))[0]
    os.remove(osp.join(root, 'query', victim))
    with pytest.raises(ValueError, match='incomplete or was modified'):
        SynthReID(root, 'query', spec=TINY)


def test_concurrent_first_use(tmp_path):
    root = str(tmp_path / 'shared' / 'synthreid')
    spec = SynthReIDSpec(**TINY)
    results, errors = [], []

    def use():
        try:
            results.append(ensure_synthreid(root, seed=2, spec=spec))
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    # No temporary folder is left next to the dataset.
    assert sorted(os.listdir(
        osp.dirname(root))) == ['.synthreid.lock', 'synthreid']


def test_copy_of_older_generator_is_replaced(tmp_path):
    root = str(tmp_path / 'old')
    spec = SynthReIDSpec(**TINY)
    ensure_synthreid(root, spec=spec)
    reference = _read_all(root)
    meta_path = osp.join(root, 'meta.json')
    meta = json.load(open(meta_path))
    meta['version'] = 0
    json.dump(meta, open(meta_path, 'w'))
    victim = osp.join(root, 'query',
                      sorted(os.listdir(osp.join(root, 'query')))[0])
    open(victim, 'wb').close()  # stale content must not survive
    with pytest.raises(FileNotFoundError, match='another version'):
        ensure_synthreid(root, spec=spec, auto_generate=False)
    assert ensure_synthreid(root, spec=spec)['version'] == GENERATOR_VERSION
    assert _read_all(root) == reference
    assert sorted(os.listdir(tmp_path)) == ['.old.lock', 'old']


def test_empty_existing_folder_is_filled(tmp_path):
    root = tmp_path / 'empty'
    root.mkdir()
    meta = ensure_synthreid(str(root), spec=SynthReIDSpec(**TINY))
    assert osp.isfile(root / 'meta.json')
    assert meta['counts']['train_images'] == 30


@pytest.mark.parametrize('bad, message', [
    (dict(num_train_ids=8), 'num_ids > num_train_ids'),
    (dict(cams_per_id=4), 'cams_per_id <= num_cameras'),
    (dict(imgs_per_cam=1), 'imgs_per_cam >= 2'),
    (dict(family_fraction=1.5), 'family_fraction <= 1'),
    (dict(num_ids=8.0), 'num_ids must be int'),
])
def test_bad_spec(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        SynthReIDSpec(**{**TINY, **bad})


def test_bad_dataset_arguments(tmp_path):
    with pytest.raises(
            ValueError, match=r"Unknown SynthReID spec keys "
            r"\['ids'\]"):
        SynthReID(str(tmp_path), spec=dict(ids=3))
    with pytest.raises(ValueError, match='seed must be a non-negative int'):
        SynthReID(str(tmp_path), seed=-1)
