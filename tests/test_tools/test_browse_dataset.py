"""tools/misc/browse_dataset.py writes a grid of training samples."""
import importlib.util
import os.path as osp

import cv2

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'browse_dataset.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('browse_dataset', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_browse_writes_grid(tmp_path):
    base = osp.join(REPO_ROOT, 'configs', '_base_', 'datasets', 'synthreid.py')
    data_root = str(tmp_path / 'synth')
    cfg_path = tmp_path / 'browse_cfg.py'
    # 3 train ids x 2 cameras x 2 images; P x K = 2 x 4.
    cfg_path.write_text(f'''_base_ = [{base!r}]
spec = dict(num_ids=5, num_train_ids=3, num_cameras=2, cams_per_id=2,
            imgs_per_cam=2, num_distractors=0, family_size=2,
            img_height=64, img_width=32)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(data_root={data_root!r}, spec=spec))
''')
    out_dir = str(tmp_path / 'out')
    path = _load_tool().main(
        [str(cfg_path), '--output-dir', out_dir, '--num', '10'])
    assert path == osp.join(out_dir, 'browse_cfg_train_pipeline.png')
    grid = cv2.imread(path)
    # Inputs are 128x64 (the synthreid pipeline); 10 samples in rows of
    # 2 * K = 8 -> 2 rows; each tile has a 12-pixel caption header.
    assert grid.shape == (2 * (128 + 12), 8 * 64, 3)
    # The second row has 2 samples then white padding.
    assert (grid[140:, 2 * 64:] == 255).all()
    assert not (grid[152:, :2 * 64] == 255).all()
