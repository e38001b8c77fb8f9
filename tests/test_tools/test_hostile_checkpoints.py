"""Every entry point refuses a hostile checkpoint before any of its code runs,
exits non-zero with a message naming the file, and changes nothing on disk."""
import os
import subprocess
import sys

import pytest
import torch

from mmpha.utils import UnsafeCheckpointError

CODE = 'open({marker!r}, "w").write("ran")'


class _Reduce:

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _hostile(path, marker, kind, base_ckpt):
    """A real checkpoint of the tiny model with a payload hidden inside."""
    ckpt = torch.load(base_ckpt, weights_only=True)
    rebuild = torch._tensor._rebuild_from_type_v2
    if kind == 'getattr_chain':
        module_dict = _Reduce(getattr, torch._utils._rebuild_tensor_v2,
                              '__globals__')
        get = _Reduce(getattr, module_dict, 'get')
        builtins = _Reduce(rebuild, get,
                           _Reduce(getattr, module_dict, '__class__'),
                           ('__builtins__', ), {})
        exec_fn = _Reduce(rebuild, _Reduce(getattr, builtins, 'get'),
                          _Reduce(getattr, get, '__class__'), ('exec', ), {})
        payload = _Reduce(rebuild, exec_fn, _Reduce(getattr, None,
                                                    '__class__'),
                          (CODE.format(marker=str(marker)), ), {})
        ckpt.setdefault('message_hub', {})['runtime_info'] = dict(x=payload)
    else:
        ckpt.setdefault('meta', {})['x'] = _Reduce(os.system,
                                                   f'touch {marker}')
    torch.save(ckpt, path)
    return str(path)


def _listing(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(root) for f in files)


def _run(repo_root, args):
    return subprocess.run([sys.executable, *args],
                          cwd=repo_root,
                          capture_output=True,
                          text=True,
                          timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['getattr_chain', 'os_system'])
def test_tools_refuse_and_leave_nothing(repo_root, tiny_files, tmp_path, kind):
    marker = tmp_path / 'ran'
    evil = _hostile(tmp_path / 'evil.pth', marker, kind,
                    tiny_files['transreid_ckpt'])
    cfg = tiny_files['transreid_cfg']
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    (resumed / 'last_checkpoint').write_text('epoch_3.pth')
    (resumed / 'epoch_3.pth').write_bytes(open(evil, 'rb').read())
    before = _listing(tmp_path)
    runs = {
        'test':
        ['tools/test.py', cfg, evil, '--work-dir',
         str(tmp_path / 'w_test')],
        'load_from': [
            'tools/train.py', cfg, '--work-dir',
            str(tmp_path / 'w_train'), '--cfg-options', f'load_from={evil}'
        ],
        'resume_path': [
            'tools/train.py', cfg, '--work-dir',
            str(tmp_path / 'w_resume'), '--resume', evil
        ],
        'resume_auto':
        ['tools/train.py', cfg, '--work-dir',
         str(resumed), '--resume'],
    }
    for name, args in runs.items():
        result = _run(repo_root, args)
        assert result.returncode == 1, (name, result.stderr[-3000:])
        assert 'error: UnsafeCheckpointError' in result.stderr, name
        assert 'Traceback' not in result.stderr, name
        assert ('evil.pth' in result.stderr
                or 'epoch_3.pth' in result.stderr), name
        assert not marker.exists(), name
        assert _listing(tmp_path) == before, name


@pytest.mark.parametrize('kind', ['getattr_chain', 'os_system'])
def test_init_model_refuses(tiny_files, tmp_path, kind):
    from mmpha.apis import init_model
    marker = tmp_path / 'ran'
    evil = _hostile(tmp_path / 'evil.pth', marker, kind,
                    tiny_files['transreid_ckpt'])
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        init_model(tiny_files['transreid_cfg'], evil)
    assert not marker.exists()
    # The same file loads when the user explicitly trusts it.
    from mmpha.utils import unsafe_load
    with unsafe_load():
        init_model(tiny_files['transreid_cfg'], evil)
    assert marker.exists()
