"""tools/dataset_converters/generate_synthreid.py: the SynthReID command
line."""
import importlib.util
import os
import os.path as osp

import pytest
from _tiny_reid import TINY_SPEC as TINY

from mmpha.datasets.synthreid import SynthReIDSpec, generate_synthreid

TOOL = osp.join('tools', 'dataset_converters', 'generate_synthreid.py')


@pytest.fixture(scope='module')
def tool(repo_root):
    spec = importlib.util.spec_from_file_location('_generate_synthreid',
                                                  osp.join(repo_root, TOOL))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read_all(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                files[osp.relpath(path, root)] = f.read()
    return files


def test_cli_writes_what_the_library_writes(tool, tmp_path):
    out = str(tmp_path / 'cli')
    args = ['--out', out, '--seed', '3']
    for key, value in TINY.items():
        args += ['--' + key.replace('_', '-'), str(value)]
    meta = tool.main(args)
    assert meta['seed'] == 3
    assert meta['spec'] == SynthReIDSpec(**TINY).__dict__
    assert len(os.listdir(osp.join(out, 'bounding_box_train'))) == 8
    ref = str(tmp_path / 'ref')
    generate_synthreid(ref, seed=3, spec=SynthReIDSpec(**TINY), progress=False)
    assert _read_all(out) == _read_all(ref)


def test_cli_defaults_are_the_spec_defaults(tool):
    args = tool.parse_args([])
    assert args.out == 'data/synthreid'
    assert args.seed == 0 and args.nproc == 1
    for key, value in SynthReIDSpec().__dict__.items():
        assert getattr(args, key) == value, key
