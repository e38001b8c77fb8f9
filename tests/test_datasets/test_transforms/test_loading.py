"""LoadReIDImage: loads like mmcv, names the file it fails on, or skips."""
import logging

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from mmpha.datasets.transforms import LoadReIDImage
from mmpha.registry import TRANSFORMS


@pytest.fixture
def image_file(tmp_path):
    img = np.zeros((8, 4, 3), np.uint8)
    img[..., 2] = 200  # red in BGR
    path = str(tmp_path / 'ok.png')
    cv2.imwrite(path, img)
    return path


def test_loads_an_image(image_file):
    out = TRANSFORMS.build(dict(type='LoadReIDImage'))(
        dict(img_path=image_file))
    assert out['img'].shape == (8, 4, 3) and out['img'].dtype == np.uint8
    assert out['img'][0, 0].tolist() == [0, 0, 200]
    assert out['img_shape'] == out['ori_shape'] == (8, 4)
    out = LoadReIDImage(to_float32=True)(dict(img_path=image_file))
    assert out['img'].dtype == np.float32


@pytest.mark.parametrize('content,reason', [
    (None, 'cannot read image file'),
    (b'', 'the file is empty'),
    (b'GIF89a but really just text', 'not an image or corrupted'),
])
def test_bad_file_raises_naming_it(tmp_path, content, reason):
    path = str(tmp_path / 'bad.jpg')
    if content is not None:
        with open(path, 'wb') as f:
            f.write(content)
    with pytest.raises(OSError) as info:
        LoadReIDImage()(dict(img_path=path))
    assert f'"{path}"' in str(info.value)
    assert reason in str(info.value)


def test_skip_returns_none_warns_and_counts(tmp_path, image_file):
    bad = str(tmp_path / 'bad.jpg')
    with open(bad, 'wb') as f:
        f.write(b'\xff\xd8 truncated')
    logger = MMLogger.get_instance('test_loading_skip', log_level='WARNING')
    messages = []

    class _Collect(logging.Handler):

        def emit(self, record):
            messages.append(record.getMessage())

    handler = _Collect()
    logger.addHandler(handler)
    LoadReIDImage.reset_skipped()
    load = LoadReIDImage(on_error='skip')
    try:
        assert load(dict(img_path=bad)) is None
        assert load(dict(img_path=image_file))['img'].shape == (8, 4, 3)
        assert load(dict(img_path=bad)) is None
    finally:
        logger.removeHandler(handler)
    assert LoadReIDImage.num_skipped == 2
    assert len(messages) == 2
    assert f'"{bad}"' in messages[0]
    assert '2 image(s) skipped so far' in messages[1]
    LoadReIDImage.reset_skipped()
    assert LoadReIDImage.num_skipped == 0


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="'ignore'"):
        LoadReIDImage(on_error='ignore')
    with pytest.raises(TypeError, match='to_float32'):
        LoadReIDImage(to_float32=1)
    with pytest.raises(KeyError, match='img_path'):
        LoadReIDImage()(dict(filename='x.jpg'))
    assert "on_error='skip'" in repr(LoadReIDImage(on_error='skip'))
    assert "max_pixels='pillow'" in repr(LoadReIDImage())
    assert 'max_pixels=1000)' in repr(LoadReIDImage(max_pixels=1000))
    assert LoadReIDImage(max_pixels=1000).pixel_limit() == 1000
