"""Tiny SynthReID configs and checkpoints shared by the api/tool tests.

Imported by the ``conftest.py`` of the test folders that need them; the
fixtures are session-scoped, so the data and checkpoints are made once.
"""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config

TRANSREID_CFG = ('configs/transreid/transreid_vit-tiny-p16-s12_scratch_'
                 '1xb32-8x4_16e_synthreid-128x64.py')
PHA_CFG = ('configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_'
           'synthreid-128x64.py')
#: Depth of the tiny backbone: the frequency CSV has this many rows.
TINY_LAYERS = 2
TINY_ARCH = dict(
    embed_dims=32,
    num_layers=TINY_LAYERS,
    num_heads=2,
    feedforward_channels=64)
#: 4 test ids x 2 cameras: 8 query and 8 + 2 gallery images of 64x32.
TINY_SPEC = dict(
    num_ids=6,
    num_train_ids=2,
    num_cameras=2,
    cams_per_id=2,
    imgs_per_cam=2,
    num_distractors=2,
    family_size=2,
    img_height=64,
    img_width=32)
NUM_QUERY = 8
NUM_GALLERY = 10


def _patch_datasets(node, data_root: str) -> None:
    """Point every SynthReID dataset of a config tree at the tiny data."""
    if isinstance(node, dict):
        if node.get('type') == 'SynthReID':
            node['data_root'] = data_root
            node['spec'] = dict(TINY_SPEC)
        if 'num_workers' in node:
            node['num_workers'] = 0
            node['persistent_workers'] = False
        for value in node.values():
            _patch_datasets(value, data_root)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _patch_datasets(value, data_root)


def tiny_config(repo_root: str, rel_path: str, data_root: str,
                work_dir: str) -> Config:
    """A repository config shrunk to the tiny backbone and data."""
    cfg = Config.fromfile(osp.join(repo_root, rel_path))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _patch_datasets(cfg[key], data_root)
    if cfg.model.backbone.type == 'TransReIDViT':
        cfg.model.backbone.arch = dict(TINY_ARCH)
    cfg.work_dir = work_dir
    # A unique name: runners started within one second would otherwise
    # share MMEngine's logger and visualizer instances.
    cfg.experiment_name = f'tiny_{uuid.uuid4().hex[:12]}'
    return cfg


def save_checkpoint(model: torch.nn.Module, path: str) -> str:
    """Save a model the way the tools expect a checkpoint."""
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def tiny_data_root(tmp_path_factory) -> str:
    """A tiny SynthReID, generated once."""
    from mmpha.datasets.synthreid import SynthReIDSpec, ensure_synthreid
    root = str(tmp_path_factory.mktemp('tiny_data') / 'synthreid')
    ensure_synthreid(root, seed=0, spec=SynthReIDSpec(**TINY_SPEC))
    return root


@pytest.fixture(scope='session')
def tiny_files(tiny_data_root, tmp_path_factory, repo_root) -> dict:
    """Tiny TransReID / PHA config files and a checkpoint of each.

    Returns:
        dict: ``transreid_cfg``, ``pha_cfg`` (paths), ``transreid_ckpt``,
        ``pha_ckpt`` (paths, random weights) and ``work_dir``.
    """
    from mmpha.apis import init_model
    work = tmp_path_factory.mktemp('tiny_files')
    files = dict(work_dir=str(work))
    for name, rel in (('transreid', TRANSREID_CFG), ('pha', PHA_CFG)):
        cfg = tiny_config(repo_root, rel, tiny_data_root, str(work))
        cfg_path = str(work / f'{name}_tiny.py')
        cfg.dump(cfg_path)
        torch.manual_seed(0 if name == 'transreid' else 1)
        model = init_model(cfg_path)
        files[f'{name}_cfg'] = cfg_path
        files[f'{name}_ckpt'] = save_checkpoint(model,
                                                str(work / f'{name}.pth'))
    return files


def run_tool(repo_root: str, rel_path: str, args, monkeypatch):
    """Run a script's ``main()`` in this process with ``args`` as argv.

    In-process runs skip the interpreter and import start-up of a
    subprocess (several seconds each here).

    Returns:
        The return value of ``main()``.
    """
    import importlib.util
    import sys
    path = osp.join(repo_root, rel_path)
    name = '_tool_' + rel_path.replace('/', '_').replace('.py', '')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [path, *[str(a) for a in args]])
    return module.main()
