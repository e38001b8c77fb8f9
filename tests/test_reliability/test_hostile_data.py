"""Hostile data: pixel bombs, list entries escaping data_root, FIFOs and
devices, list files in other encodings, a data_root that does not exist.

Every bad input is built here, inside the test that uses it.
"""
import glob
import os
import os.path as osp
import re
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image
from reliability_utils import TINY_SPEC

from mmpha.datasets import (CUHK03, MSMT17, DukeMTMC, Market1501,
                            ReIDFolderDataset, ReIDListDataset, SynthReID)
from mmpha.datasets.transforms import LoadReIDImage
from mmpha.datasets.transforms import loading as loading_module
from mmpha.registry import DATASETS

#: Seconds within which an operation on a FIFO must return: reading one
#: with no writer blocks forever.
NO_BLOCK_S = 20


def _write_image(path, height=10, width=20):
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.random.default_rng(0).integers(0, 256, (height, width, 3),
                                            np.uint8)
    assert cv2.imwrite(path, img), path
    return path


def _png_claiming(width, height):
    """A valid PNG stream whose IHDR declares ``width x height`` pixels
    but whose data is a few bytes."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data)
        return struct.pack('>I', len(data)) + kind + data + struct.pack(
            '>I', crc)

    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
            chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + chunk(b'IEND', b''))


def _jpeg_claiming(width, height):
    """A real 8x16 JPEG whose start-of-frame says ``width x height``."""
    ok, buf = cv2.imencode('.jpg', np.zeros((8, 16, 3), np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    sof = data.index(b'\xff\xc0')  # baseline start of frame
    # FF C0, length (2), precision (1), height (2), width (2).
    data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
    return bytes(data)


def _write(path, content):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(content)
    return path


def _no_decoding(monkeypatch):
    """Make any call of the decoder fail the test."""
    calls = []

    def decoder(*args, **kwargs):
        calls.append(args)
        raise AssertionError('the image was decoded')

    monkeypatch.setattr(loading_module.mmcv, 'imfrombytes', decoder)
    return calls


def _within(seconds, fn, fifos=()):
    """Run ``fn()`` in a thread; fail if it has not returned in time.

    A thread blocked opening one of ``fifos`` is released by opening the
    FIFO for writing, so that no thread outlives the test.
    """
    result = {}

    def target():
        try:
            result['value'] = fn()
        except BaseException as err:  # noqa: B902 (re-raised below)
            result['error'] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(seconds)
        pytest.fail(f'{fn} blocked for more than {seconds} s')
    if 'error' in result:
        raise result['error']
    return result.get('value')


# ---------------------------------------------------------------- pixel bombs


@pytest.mark.parametrize('fmt', ['png', 'jpg'])
@pytest.mark.parametrize(
    'width, height',
    [
        (10000, 10000),  # over Pillow's warning limit, under twice it
        (60000, 60000),  # over twice the limit: Pillow refuses the header
    ])
def test_pixel_bomb_is_refused_from_its_header(tmp_path, monkeypatch, fmt,
                                               width, height):
    build = _png_claiming if fmt == 'png' else _jpeg_claiming
    path = _write(str(tmp_path / f'bomb.{fmt}'), build(width, height))
    assert osp.getsize(path) < 1000
    with monkeypatch.context() as patch:
        # The header really declares that size (read with no limit).
        patch.setattr(Image, 'MAX_IMAGE_PIXELS', None)
        with Image.open(path) as img:
            assert img.size == (width, height)
    calls = _no_decoding(monkeypatch)
    with pytest.raises(OSError) as info:
        LoadReIDImage()(dict(img_path=path))
    message = str(info.value)
    assert f'refused image file "{path}"' in message
    assert str(width * height) in message
    assert f'limit is {Image.MAX_IMAGE_PIXELS}' in message or (
        f'limit of {Image.MAX_IMAGE_PIXELS}' in message)
    assert calls == []


def test_pixel_limit_is_exact_and_configurable(tmp_path):
    path = _write_image(str(tmp_path / 'img.png'), height=10, width=20)
    with pytest.raises(OSError) as info:
        LoadReIDImage(max_pixels=199)(dict(img_path=path))
    assert (f'"{path}": not decoded: its header declares 20 x 10 = 200 '
            'pixels, over the limit of 199') in str(info.value)
    out = LoadReIDImage(max_pixels=200)(dict(img_path=path))
    assert out['img'].shape == (10, 20, 3)


def test_default_limit_is_pillows_read_at_call_time(tmp_path, monkeypatch):
    path = _write_image(str(tmp_path / 'img.png'), height=10, width=20)
    load = LoadReIDImage()  # built before the limit changes
    calls = _no_decoding(monkeypatch)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 199)
    with pytest.raises(OSError, match='over the limit of 199'):
        load(dict(img_path=path))
    # Under half the size: Pillow's own error, still refused undecoded.
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 99)
    with pytest.raises(OSError, match=r'without decoding it: .*200 pixels'):
        load(dict(img_path=path))
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 200)
    assert load(dict(img_path=path))['img'].shape == (10, 20, 3)
    assert load.pixel_limit() == 200


def test_no_limit_when_disabled(tmp_path, monkeypatch):
    path = _write_image(str(tmp_path / 'img.png'), height=10, width=20)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 99)
    load = LoadReIDImage(max_pixels=None)
    assert load.pixel_limit() is None
    assert load(dict(img_path=path))['img'].shape == (10, 20, 3)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', None)
    assert LoadReIDImage()(dict(img_path=path))['img'].shape == (10, 20, 3)


def test_header_pillow_cannot_read_is_checked_once_decoded(
        tmp_path, monkeypatch):
    path = _write_image(str(tmp_path / 'img.png'), height=10, width=20)
    monkeypatch.setattr(loading_module, 'read_image_size', lambda _: None)
    with pytest.raises(OSError, match=r'decoded to 20 x 10 = 200 pixels'):
        LoadReIDImage(max_pixels=150)(dict(img_path=path))


def test_refused_bomb_is_skipped_when_asked(tmp_path, monkeypatch):
    path = _write(str(tmp_path / 'bomb.png'), _png_claiming(10000, 10000))
    calls = _no_decoding(monkeypatch)
    LoadReIDImage.reset_skipped()
    assert LoadReIDImage(on_error='skip')(dict(img_path=path)) is None
    assert LoadReIDImage.num_skipped == 1
    assert calls == []
    LoadReIDImage.reset_skipped()


@pytest.mark.parametrize('bad', [0, -5, 1.5, True, 'auto', [10]])
def test_max_pixels_is_checked(bad):
    with pytest.raises(
            ValueError, match='max_pixels .*got ' + re.escape(repr(bad))):
        LoadReIDImage(max_pixels=bad)


# -------------------------------------------------- special files, no blocking


def test_loader_refuses_fifo_and_directory_without_blocking(tmp_path):
    fifo = str(tmp_path / 'pipe.jpg')
    os.mkfifo(fifo)
    folder = str(tmp_path / 'folder.jpg')
    os.mkdir(folder)
    for path, kind in ((fifo, 'FIFO'), (folder, 'directory')):
        with pytest.raises(OSError) as info:
            _within(
                NO_BLOCK_S,
                lambda: LoadReIDImage()(dict(img_path=path)),
                fifos=[fifo])
        assert f'refused image file "{path}": it is a {kind}' in str(
            info.value)


def _list_root(tmp_path, lines, name='train.txt'):
    """data_root with images/a.jpg and images/sub/b.jpg, a list file of
    ``lines`` and, next to data_root, outside/secret.jpg."""
    root = str(tmp_path / 'data')
    _write_image(osp.join(root, 'images', 'a.jpg'))
    _write_image(osp.join(root, 'images', 'sub', 'b.jpg'))
    secret = _write_image(str(tmp_path / 'outside' / 'secret.jpg'))
    text = '\n'.join(line.format(secret=secret, root=root) for line in lines)
    _write(osp.join(root, name), (text + '\n').encode())
    return root, secret


def test_special_files_in_a_list_are_refused_without_blocking(tmp_path):
    root, _ = _list_root(tmp_path, ['a.jpg 1 0'])
    fifo = osp.join(root, 'images', 'pipe.jpg')
    os.mkfifo(fifo)
    cases = [('pipe.jpg', 'FIFO (named pipe)', False),
             ('sub', 'directory', False),
             ('/dev/null', 'character device', True)]
    for entry, kind, allow in cases:
        _write(
            osp.join(root, 'train.txt'), f'a.jpg 1 0\n{entry} 2 0\n'.encode())
        with pytest.raises(ValueError) as info:
            _within(
                NO_BLOCK_S,
                lambda: ReIDListDataset(
                    root,
                    'train.txt',
                    data_prefix='images',
                    allow_outside_root=allow),
                fifos=[fifo])
        message = str(info.value)
        assert f'Line 2 of {osp.join(root, "train.txt")}' in message
        assert f'is a {kind}, not a regular image file' in message


def test_list_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    root, _ = _list_root(tmp_path, ['a.jpg 1 0'])
    fifo = osp.join(root, 'query.txt')
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match='query list file .* is a FIFO'):
        _within(
            NO_BLOCK_S,
            lambda: ReIDListDataset(root, 'query.txt', split='query'),
            fifos=[fifo])


@pytest.mark.parametrize('recursive', [False, True])
def test_folder_datasets_ignore_fifos_named_like_images(tmp_path, recursive):
    root = str(tmp_path / 'market')
    train = osp.join(root, 'bounding_box_train')
    _write_image(osp.join(train, '0002_c1s1_000451_03.jpg'))
    os.makedirs(osp.join(train, 'deeper'))
    fifos = [
        osp.join(train, '0003_c1s1_000001_01.jpg'),
        osp.join(train, 'deeper', '0004_c1s1_000001_01.jpg')
    ]
    for fifo in fifos:
        os.mkfifo(fifo)
    ds = _within(
        NO_BLOCK_S,
        lambda: ReIDFolderDataset(root, 'train', recursive=recursive),
        fifos=fifos)
    assert [
        osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))
    ] == ['0002_c1s1_000451_03.jpg']


# ---------------------------------------------- list entries outside the root


def _escapes(tmp_path):
    """Entries that resolve outside data_root, one way each."""
    root = str(tmp_path / 'data')
    images = osp.join(root, 'images')
    os.makedirs(images, exist_ok=True)
    os.symlink(
        str(tmp_path / 'outside' / 'secret.jpg'), osp.join(images, 'link.jpg'))
    os.symlink(str(tmp_path / 'outside'), osp.join(images, 'linkdir'))
    return {
        'dotdot': '../../outside/secret.jpg',
        'absolute': '{secret}',
        'file symlink': 'link.jpg',
        'folder symlink': 'linkdir/secret.jpg',
        'dotdot after a folder': 'sub/../../../outside/secret.jpg',
    }


@pytest.mark.parametrize('how', [
    'dotdot', 'absolute', 'file symlink', 'folder symlink',
    'dotdot after a folder'
])
def test_list_entry_outside_data_root_is_refused(tmp_path, how):
    entry = _escapes(tmp_path)[how]
    root, secret = _list_root(tmp_path, ['a.jpg 1 0', entry + ' 2 0'])
    with pytest.raises(ValueError) as info:
        ReIDListDataset(root, 'train.txt', data_prefix='images')
    message = str(info.value)
    assert f'Line 2 of {osp.join(root, "train.txt")}' in message
    assert f'resolves to "{osp.realpath(secret)}", outside the dataset ' \
        'root' in message
    # Only data_root is named: the image folder lies inside it.
    assert f'outside the dataset root "{osp.realpath(root)}". Set ' \
        'allow_outside_root=True' in message

    ds = ReIDListDataset(
        root, 'train.txt', data_prefix='images', allow_outside_root=True)
    path = ds.get_data_info(1)['img_path']
    assert osp.realpath(path) == osp.realpath(secret)
    assert LoadReIDImage()(dict(img_path=path))['img'].shape == (10, 20, 3)


def test_dangling_symlink_is_judged_by_its_target(tmp_path):
    root, _ = _list_root(tmp_path, ['a.jpg 1 0', 'out.jpg 2 0'])
    images = osp.join(root, 'images')
    os.symlink(
        str(tmp_path / 'outside' / 'gone.jpg'), osp.join(images, 'out.jpg'))
    with pytest.raises(ValueError, match=r'Line 2 .*outside the dataset'):
        ReIDListDataset(root, 'train.txt', data_prefix='images')
    # A dangling link inside is a missing image: the loader names it.
    os.remove(osp.join(images, 'out.jpg'))
    os.symlink(osp.join(images, 'gone.jpg'), osp.join(images, 'out.jpg'))
    ds = ReIDListDataset(root, 'train.txt', data_prefix='images')
    path = ds.get_data_info(1)['img_path']
    with pytest.raises(OSError, match=f'cannot read image file "{path}"'):
        LoadReIDImage()(dict(img_path=path))


def test_list_entries_that_stay_inside_are_accepted(tmp_path):
    root = str(tmp_path / 'data')
    lines = [
        'a.jpg 1 0',
        'sub/../a.jpg 1 1',  # '..' that stays inside
        '{root}/images/sub/b.jpg 2 0',  # absolute, inside
        'inner.jpg 2 1',  # a symlink inside to a file inside
        '../extra/c.jpg 3 0',  # outside data_prefix, inside data_root
    ]
    root, _ = _list_root(tmp_path, lines)
    os.symlink(
        osp.join(root, 'images', 'sub', 'b.jpg'),
        osp.join(root, 'images', 'inner.jpg'))
    _write_image(osp.join(root, 'extra', 'c.jpg'))
    ds = ReIDListDataset(root, 'train.txt', data_prefix='images')
    assert len(ds) == 5
    real = [osp.realpath(ds.get_data_info(i)['img_path']) for i in range(5)]
    images = osp.join(osp.realpath(root), 'images')
    assert real == [
        osp.join(images, 'a.jpg'),
        osp.join(images, 'a.jpg'),
        osp.join(images, 'sub', 'b.jpg'),
        osp.join(images, 'sub', 'b.jpg'),
        osp.join(osp.realpath(root), 'extra', 'c.jpg')
    ]


def test_symlinked_data_root_and_image_folder_are_trusted(tmp_path):
    # data_root and data_prefix come from the config: either may be a
    # symbolic link (datasets often live on another disk).
    real_root, _ = _list_root(tmp_path, ['a.jpg 1 0', 'sub/b.jpg 2 0'])
    link_root = str(tmp_path / 'link_to_data')
    os.symlink(real_root, link_root)
    assert len(ReIDListDataset(link_root, 'train.txt',
                               data_prefix='images')) == 2
    elsewhere = str(tmp_path / 'other_disk')
    os.rename(osp.join(real_root, 'images'), elsewhere)
    os.symlink(elsewhere, osp.join(real_root, 'images'))
    assert len(ReIDListDataset(real_root, 'train.txt',
                               data_prefix='images')) == 2
    # ... but an entry escaping the image folder and data_root is not.
    _write(osp.join(real_root, 'bad.txt'), b'../../outside/secret.jpg 1 0\n')
    with pytest.raises(ValueError, match='outside the dataset root'):
        ReIDListDataset(real_root, 'bad.txt', data_prefix='images')


def test_msmt17_list_entry_outside_data_root_is_refused(tmp_path):
    root = str(tmp_path / 'MSMT17_V1')
    name = '0000/0000_000_01_0303morning_0015_0.jpg'
    _write_image(osp.join(root, 'train', name))
    secret = _write_image(
        str(tmp_path / 'outside' / '0001' /
            '0001_000_02_0303morning_0015_0.jpg'))
    os.makedirs(osp.join(root, 'test'))
    escape = osp.relpath(secret, osp.join(root, 'train'))
    _write(osp.join(root, 'list_train.txt'), f'{name} 0\n'.encode())
    _write(osp.join(root, 'list_val.txt'), f'{escape} 1\n'.encode())
    with pytest.raises(ValueError) as info:
        MSMT17(root)
    assert f'Line 1 of {osp.join(root, "list_val.txt")}' in str(info.value)
    assert 'outside the dataset root' in str(info.value)
    ds = MSMT17(root, allow_outside_root=True)
    assert osp.realpath(
        ds.get_data_info(1)['img_path']) == osp.realpath(secret)


@pytest.mark.parametrize('bad', [1, 'yes', None])
def test_allow_outside_root_must_be_a_bool(tmp_path, bad):
    with pytest.raises(
            TypeError, match='allow_outside_root .*' + re.escape(repr(bad))):
        ReIDListDataset(str(tmp_path), 'train.txt', allow_outside_root=bad)
    with pytest.raises(
            TypeError, match='allow_outside_root .*' + re.escape(repr(bad))):
        MSMT17(str(tmp_path), allow_outside_root=bad)


# ------------------------------------------------------- list file encodings


@pytest.mark.parametrize('newline', ['\n', '\r\n'])
def test_list_file_with_a_bom_reads_correctly(tmp_path, newline):
    root, _ = _list_root(tmp_path, ['a.jpg 1 0'])
    text = newline.join(['a.jpg 5 0', 'sub/b.jpg 7 1', 'caf\u00e9.jpg 9 0'])
    _write_image(osp.join(root, 'images', 'caf\u00e9.jpg'))
    _write(osp.join(root, 'bom.txt'), b'\xef\xbb\xbf' + text.encode('utf-8'))
    ds = ReIDListDataset(root, 'bom.txt', data_prefix='images', split='query')
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [d['img_path'] for d in infos] == [
        osp.join(root, 'images', 'a.jpg'),
        osp.join(root, 'images', 'sub/b.jpg'),
        osp.join(root, 'images', 'caf\u00e9.jpg')
    ]
    assert [d['gt_label'] for d in infos] == [5, 7, 9]
    assert [d['cam_id'] for d in infos] == [0, 1, 0]


@pytest.mark.parametrize(
    'content, line',
    [
        # Latin-1 on line 3 (a comment: it is decoded before it is skipped).
        ('a.jpg 1 0\nsub/b.jpg 2 0\n# caf\u00e9\n'.encode('latin-1'), 3),
        ('a.jpg 1 0\n\nsub/b\u00e9.jpg 2 0\n'.encode('cp1252'), 3),
        ('a.jpg 1 0\n'.encode('utf-16'), 1),  # starts with FF FE
    ])
def test_list_file_not_in_utf8_names_file_and_line(tmp_path, content, line):
    root, _ = _list_root(tmp_path, ['a.jpg 1 0'])
    path = _write(osp.join(root, 'latin.txt'), content)
    with pytest.raises(ValueError) as info:
        ReIDListDataset(root, 'latin.txt', data_prefix='images')
    assert f'Line {line} of {path} is not valid UTF-8' in str(info.value)


# ----------------------------------------------------- data_root must exist


def _missing_cases():
    return {
        'Market1501':
        lambda root: Market1501(root),
        'DukeMTMC':
        lambda root: DukeMTMC(root, split='query'),
        'CUHK03':
        lambda root: CUHK03(root, subset='detected'),
        'MSMT17 v1':
        lambda root: MSMT17(root),
        'MSMT17 v2':
        lambda root: MSMT17(root, version='v2', split='gallery'),
        'ReIDListDataset':
        lambda root: ReIDListDataset(root, 'train.txt'),
        'ReIDFolderDataset':
        lambda root: ReIDFolderDataset(root),
        'SynthReID':
        lambda root: SynthReID(root, spec=TINY_SPEC),
        'SynthReID from a config':
        lambda root: DATASETS.build(
            dict(type='SynthReID', data_root=root, split='query')),
    }


@pytest.mark.parametrize('name', sorted(_missing_cases()))
def test_missing_data_root_is_an_error_for_every_dataset(tmp_path, name):
    root = str(tmp_path / 'misspelled' / 'datset')
    with pytest.raises(FileNotFoundError) as info:
        _missing_cases()[name](root)
    message = str(info.value)
    assert f'"{root}"' in message
    assert 'does not exist' in message and 'Expected layout: ' in message
    assert not osp.lexists(osp.dirname(root))  # nothing was created


@pytest.mark.parametrize('name', ['Market1501', 'SynthReID'])
def test_data_root_that_is_a_file_is_an_error(tmp_path, name):
    root = _write(str(tmp_path / 'data'), b'not a folder')
    with pytest.raises(FileNotFoundError, match=f'"{root}".* is not a folder'):
        _missing_cases()[name](root)


def test_synthreid_generates_only_when_asked(tmp_path):
    root = str(tmp_path / 'new' / 'synthreid')
    with pytest.raises(FileNotFoundError, match='auto_generate=True'):
        SynthReID(root, spec=TINY_SPEC)
    assert not osp.lexists(osp.dirname(root))
    ds = SynthReID(root, spec=TINY_SPEC, auto_generate=True)
    assert osp.isfile(osp.join(root, 'meta.json'))
    assert len(ds) == TINY_SPEC['num_train_ids'] * (
        TINY_SPEC['cams_per_id'] * TINY_SPEC['imgs_per_cam'])
    # Generated once: the default (no generation) now reads it.
    assert len(SynthReID(root, spec=TINY_SPEC)) == len(ds)
    with pytest.raises(TypeError, match='auto_generate must be a bool'):
        SynthReID(root, spec=TINY_SPEC, auto_generate='yes')


def _synthreid_configs(repo_root):
    pattern = osp.join(repo_root, 'configs', '**', '*synthreid*.py')
    return sorted(
        osp.relpath(p, repo_root) for p in glob.glob(pattern, recursive=True))


def _datasets_of_type(node, type_name):
    if isinstance(node, dict):
        found = [node] if node.get('type') == type_name else []
        return found + [
            d for v in node.values() for d in _datasets_of_type(v, type_name)
        ]
    if isinstance(node, (list, tuple)):
        return [d for v in node for d in _datasets_of_type(v, type_name)]
    return []


def test_shipped_synthreid_configs_ask_for_generation(repo_root):
    # The README's quick start trains on SynthReID on a fresh machine: every
    # SynthReID dataset of every shipped config must ask for generation.
    configs = _synthreid_configs(repo_root)
    assert 'configs/_base_/datasets/synthreid.py' in configs
    assert len(configs) >= 10
    for rel in configs:
        cfg = Config.fromfile(osp.join(repo_root, rel))
        datasets = []
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            datasets += _datasets_of_type(cfg[key].to_dict(), 'SynthReID')
        if rel.startswith('configs/cross_domain/'):
            # Several train members and several query / gallery pairs.
            assert len(datasets) >= 5, rel
        else:
            # train, query, gallery (val), query, gallery (test)
            assert len(datasets) == 5, rel
        assert all(d.get('auto_generate') is True for d in datasets), rel
