import glob
import os.path as osp
import re

import mmcv
import numpy as np
import pytest
import torch
from _tiny_reid import run_tool

from mmpha.apis import InferenceWrapper, extract_features, init_model

pytest.importorskip('onnxruntime')


def _raw_batch(paths):
    """Images as the ONNX graph takes them: BGR, float 0..255, (B, 3, H, W).

    The test images are resized to the model input (128x64) as the test
    pipeline does, so that PyTorch and ONNX see the same pixels.
    """
    imgs = [
        mmcv.imresize(mmcv.imread(p), (64, 128), interpolation='bicubic')
        for p in paths
    ]
    return imgs, np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32)


def _check_line(out):
    match = re.search(
        r'max abs difference ([0-9.e+-]+), tolerance ([0-9.e+-]+): (\w+)', out)
    assert match, out
    return float(match.group(1)), float(match.group(2)), match.group(3)


def test_pytorch2onnx_matches_pytorch(tiny_files, tiny_data_root, tmp_path,
                                      repo_root, monkeypatch, capsys):
    import onnxruntime as ort
    out = tmp_path / 'tiny.onnx'
    # The tiny configs use camera SIE; without --with-cam-ids camera 0 is
    # used.
    code = run_tool(repo_root, 'tools/deployment/pytorch2onnx.py', [
        tiny_files['transreid_cfg'], tiny_files['transreid_ckpt'], '--out',
        out, '--check-batch-size', 5
    ], monkeypatch)
    diff, tol, verdict = _check_line(capsys.readouterr().out)
    assert code == 0 and verdict == 'OK' and diff <= tol == 1e-4

    # Independent check on real images, with a batch size (4) differing
    # from the traced one (2): raw BGR pixels in, the features of
    # extract_features out.
    paths = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))[:4]
    imgs, raw = _raw_batch(paths)
    session = ort.InferenceSession(
        str(out), providers=['CPUExecutionProvider'])
    onnx_feats = session.run(['features'], {'images': raw})[0]
    model = init_model(tiny_files['transreid_cfg'],
                       tiny_files['transreid_ckpt'])
    expected = extract_features(model, imgs, progress=False).numpy()
    assert onnx_feats.shape == expected.shape == (4, model.feat_dim)
    assert np.abs(onnx_feats - expected).max() <= tol


def test_pytorch2onnx_with_cam_ids(tiny_files, tiny_data_root, tmp_path,
                                   repo_root, monkeypatch, capsys):
    import onnxruntime as ort
    out = tmp_path / 'tiny_cams.onnx'
    code = run_tool(repo_root, 'tools/deployment/pytorch2onnx.py', [
        tiny_files['pha_cfg'], tiny_files['pha_ckpt'], '--out', out,
        '--with-cam-ids'
    ], monkeypatch)
    diff, tol, verdict = _check_line(capsys.readouterr().out)
    assert code == 0 and verdict == 'OK'
    paths = sorted(glob.glob(osp.join(tiny_data_root, 'query', '*.jpg')))[:3]
    imgs, raw = _raw_batch(paths)
    cams = [1, 0, 1]
    session = ort.InferenceSession(
        str(out), providers=['CPUExecutionProvider'])
    onnx_feats = session.run(['features'], {
        'images': raw,
        'cam_ids': np.array(cams, dtype=np.int64)
    })[0]
    model = init_model(tiny_files['pha_cfg'], tiny_files['pha_ckpt'])
    expected = extract_features(model, imgs, cam_ids=cams, progress=False)
    assert np.abs(onnx_feats - expected.numpy()).max() <= tol
    cam0 = extract_features(model, imgs, progress=False)
    # The camera input is used: camera 0 gives other features.
    assert np.abs(onnx_feats - cam0.numpy()).max() > 10 * tol


def test_wrapper_errors(tiny_files):
    model = init_model(
        tiny_files['transreid_cfg'],
        cfg_options={'model.backbone.camera_num': 0})
    with pytest.raises(ValueError, match='camera_num=0'):
        InferenceWrapper(model, with_cam_ids=True)
    wrapper = InferenceWrapper(model, with_preprocess=False)
    x = torch.randn(2, 3, 128, 64)
    with torch.no_grad():
        torch.testing.assert_close(wrapper(x), model(x, mode='tensor'))
