"""The safe checkpoint loader: what loads, what is refused, and how."""
import functools
import http.server
import os
import os.path as osp
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader, load_checkpoint

from mmpha.utils.checkpoint import (ALLOWED_ATTRIBUTES, CheckpointLoadError,
                                    UnsafeCheckpointError, check_checkpoint,
                                    download_checkpoint, find_unsafe_globals,
                                    load_local_checkpoint, resolve_checkpoint,
                                    set_unsafe_load, setup_checkpoint_loading,
                                    unsafe_load, unsafe_load_enabled)

# --------------------------------------------------------------------------
# Hostile pickles, built here. Each one writes a marker file when its code
# runs, so a test can tell "refused" from "ran and then failed".
# --------------------------------------------------------------------------


class _Reduce:
    """Pickles as ``func(*args)``: the building block of every payload."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _getattr_chain(code: str) -> _Reduce:
    """``exec(code)`` reached from torch's own allowed rebuild functions.

    Uses only ``getattr`` and ``torch._tensor._rebuild_from_type_v2`` (which
    torch allows and which calls its first argument): the chain that a
    generic ``getattr`` in the allow-list opens.
    """
    rebuild = torch._tensor._rebuild_from_type_v2
    module_dict = _Reduce(getattr, torch._utils._rebuild_tensor_v2,
                          '__globals__')
    dict_get = _Reduce(getattr, module_dict, 'get')
    dict_type = _Reduce(getattr, module_dict, '__class__')
    builtin_type = _Reduce(getattr, dict_get, '__class__')
    builtins_dict = _Reduce(rebuild, dict_get, dict_type, ('__builtins__', ),
                            {})
    exec_fn = _Reduce(rebuild, _Reduce(getattr, builtins_dict, 'get'),
                      builtin_type, ('exec', ), {})
    none_type = _Reduce(getattr, None, '__class__')
    return _Reduce(rebuild, exec_fn, none_type, (code, ), {})


def _touch(marker) -> str:
    return f'open({str(marker)!r}, "w").write("ran")'


def _payloads(marker):
    """Differently built hostile objects, each writing ``marker``."""
    return {
        'getattr_chain':
        _getattr_chain(_touch(marker)),
        'os_system':
        _Reduce(os.system, f'touch {marker}'),
        'subprocess':
        _Reduce(subprocess.call, ['touch', str(marker)]),
        'eval':
        _Reduce(eval, _touch(marker)),
        'getattr_on_history_buffer_module':
        _Reduce(getattr, HistoryBuffer, '__init__'),
    }


def _save(path, payload, where, legacy=False):
    """A checkpoint of plain weights with ``payload`` at ``where``."""
    ckpt = dict(state_dict={'w': torch.arange(3.)}, meta=dict(epoch=1))
    if where == 'top':
        ckpt['extra'] = payload
    elif where == 'meta':
        ckpt['meta']['hook_msgs'] = dict(best=[payload])
    elif where == 'message_hub':
        ckpt['message_hub'] = dict(
            log_scalars={'train/loss': payload}, runtime_info={})
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)


def test_payload_is_real_under_a_generic_getattr(tmp_path):
    """The chain runs code when ``builtins.getattr`` is allowed generically.

    This is what the old allow-list did; it shows that the refusal tests
    below refuse a working exploit, not a harmless file.
    """
    marker = tmp_path / 'ran'
    path = tmp_path / 'chain.pth'
    _save(path, _getattr_chain(_touch(marker)), 'message_hub')
    with torch.serialization.safe_globals([getattr]):
        torch.load(path, weights_only=True)
    assert marker.read_text() == 'ran'


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
@pytest.mark.parametrize('where', ['top', 'meta', 'message_hub'])
@pytest.mark.parametrize('kind', sorted(_payloads('x')))
def test_hostile_checkpoints_are_refused(tmp_path, kind, where, legacy):
    marker = tmp_path / 'ran'
    path = tmp_path / f'{kind}.pth'
    _save(path, _payloads(marker)[kind], where, legacy)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(UnsafeCheckpointError) as info:
        load_local_checkpoint(str(path))
    message = str(info.value)
    assert str(path) in message
    # The offending global is named, e.g. posix.system / builtins.eval.
    expected = {
        'getattr_chain': 'builtins.getattr(torch._utils._rebuild_tensor_v2',
        'os_system': '.system',
        'subprocess': '.call',
        'eval': 'eval',
        'getattr_on_history_buffer_module': "'__init__'",
    }[kind]
    assert expected in message, message
    assert not marker.exists(), 'the payload ran'
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize('kind', sorted(_payloads('x')))
def test_refused_through_mmengine_and_model_loading(tmp_path, kind):
    """``load_from``, ``init_cfg`` and the tools load through MMEngine."""
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    _save(path, _payloads(marker)[kind], 'meta')
    model = torch.nn.Linear(3, 1)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(model, str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        check_checkpoint(str(path))
    assert not marker.exists()


def test_prescan_names_globals_without_running_them(tmp_path):
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    _save(path, _Reduce(os.system, f'touch {marker}'), 'top')
    unsafe = find_unsafe_globals(str(path))
    assert any(name.endswith('.system') for name in unsafe), unsafe
    assert not marker.exists()
    legacy = tmp_path / 'legacy.pth'
    _save(legacy, {'w': torch.ones(1)}, 'top', legacy=True)
    assert find_unsafe_globals(str(legacy)) is None


def _training_checkpoint(path, hub_name):
    hub = MessageHub.get_instance(hub_name)
    hub.update_scalar('train/loss', 2.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_scalar('val/mAP', torch.tensor(35.0))
    hub.update_info('best_score', np.float32(0.5))
    hub.update_info('keep_ckpt_ids', [1, 2])
    torch.save(
        dict(
            state_dict={'w': torch.arange(3.)},
            message_hub=hub.state_dict(),
            meta=dict(
                epoch=1,
                seed=np.int64(7),
                arr=np.arange(2, dtype=np.float32),
                obj=np.array([{
                    'a': 1
                }, None], dtype=object),
                dataset_meta=dict(classes=None))), path)


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_training_state_loads(tmp_path, legacy):
    path = tmp_path / 'epoch_1.pth'
    _training_checkpoint(path, f'test_ckpt_hub_{legacy}')
    if legacy:
        ckpt = torch.load(path, weights_only=False)
        torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))
    restored = MessageHub.get_instance(f'test_ckpt_hub_restored_{legacy}')
    restored.load_state_dict(ckpt['message_hub'])
    loss = restored.get_scalar('train/loss')
    assert loss.current() == 2.5 and loss.mean() == 2.5
    assert loss.statistics('max') == 2.5
    assert restored.get_scalar('val/mAP').current() == 35.0
    assert restored.get_info('keep_ckpt_ids') == [1, 2]
    meta = ckpt['meta']
    assert meta['epoch'] == 1 and meta['seed'] == 7
    assert meta['arr'].dtype == np.float32
    assert meta['obj'][0] == {'a': 1}


def test_getattr_is_closed_to_the_history_buffer_pairs():
    names = sorted(name for obj, name in ALLOWED_ATTRIBUTES)
    assert names == ['current', 'max', 'mean', 'min']
    assert all(obj is HistoryBuffer for obj, _ in ALLOWED_ATTRIBUTES)


def test_arbitrary_classes_are_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Reduce(dict)}, path)
    with pytest.raises(
            RuntimeError,
            match=r'Refusing to unpickle .*evil\.pth'
            r'.*builtins\.dict'):
        load_local_checkpoint(str(path))


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_local_checkpoint(str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='a_dir'):
        load_local_checkpoint(str(tmp_path / 'a_dir' / '..' / 'a_dir'))


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'cut.pth'
    torch.save({'w': torch.arange(1000.)}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointLoadError, match='Cannot read.*cut.pth'):
        load_local_checkpoint(str(path))
    with pytest.raises(CheckpointLoadError, match='Cannot read.*cut.pth'):
        check_checkpoint(str(path))
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(CheckpointLoadError, match='notes.pth'):
        load_local_checkpoint(str(text))


def test_unsafe_load_is_an_explicit_opt_in(tmp_path):
    marker = tmp_path / 'ran'
    path = tmp_path / 'trusted.pth'
    torch.save({'extra': _Reduce(os.system, f'touch {marker}')}, path)
    assert not unsafe_load_enabled()
    with unsafe_load():
        assert unsafe_load_enabled()
        load_local_checkpoint(str(path))
    assert marker.exists()
    assert not unsafe_load_enabled()
    marker.unlink()
    with pytest.raises(UnsafeCheckpointError):
        load_local_checkpoint(str(path))
    assert not marker.exists()
    with pytest.raises(TypeError, match='unsafe_load'):
        set_unsafe_load('yes')
    with pytest.raises(TypeError, match="unsafe_load must be True or False"):
        setup_checkpoint_loading(dict(unsafe_load=1))
    setup_checkpoint_loading(dict())
    assert not unsafe_load_enabled()


# --------------------------------------------------------------------------
# Remote checkpoints
# --------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        if self.path.startswith('/truncated'):
            self.send_response(200)
            self.send_header('Content-Length', '100000')
            self.end_headers()
            self.wfile.write(b'PK' + b'\0' * 100)
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    root = tmp_path / 'served'
    root.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def _cache(tmp_path):
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def test_remote_checkpoint_is_cached_and_loaded_safely(tmp_path, http_root):
    root, url = http_root
    _training_checkpoint(root / 'good.pth', 'test_remote_hub')
    ckpt = CheckpointLoader.load_checkpoint(f'{url}/good.pth')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))
    assert sorted(os.listdir(_cache(tmp_path))) == ['good.pth']
    model = torch.nn.Module()
    model.register_buffer('w', torch.zeros(3))
    load_checkpoint(model, f'{url}/good.pth')
    assert torch.equal(model.w, torch.arange(3.))


@pytest.mark.parametrize('kind', ['getattr_chain', 'os_system'])
def test_remote_hostile_checkpoint_is_refused_and_removed(
        tmp_path, http_root, kind):
    root, url = http_root
    marker = tmp_path / 'ran'
    _save(root / 'evil.pth', _payloads(marker)[kind], 'meta')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(f'{url}/evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        resolve_checkpoint(f'{url}/evil.pth')
    assert not marker.exists()
    assert os.listdir(_cache(tmp_path)) == []


def test_interrupted_download_leaves_nothing(tmp_path, http_root):
    _, url = http_root
    with pytest.raises(OSError, match='stopped after 102 of 100000 bytes'):
        download_checkpoint(f'{url}/truncated.pth')
    assert os.listdir(_cache(tmp_path)) == []


def test_download_checks_the_hash_in_the_name(tmp_path, http_root):
    root, url = http_root
    torch.save({'w': torch.ones(2)}, root / 'weights-0123abcd.pth')
    with pytest.raises(ValueError, match='SHA-256'):
        download_checkpoint(f'{url}/weights-0123abcd.pth')
    assert os.listdir(_cache(tmp_path)) == []
    import hashlib
    data = (root / 'weights-0123abcd.pth').read_bytes()
    good = f'weights-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    (root / good).write_bytes(data)
    path, created = download_checkpoint(f'{url}/{good}')
    assert created and osp.basename(path) == good
    assert download_checkpoint(f'{url}/{good}') == (path, False)


def test_resolve_checkpoint_local(tmp_path):
    path = tmp_path / 'w.pth'
    torch.save({'w': torch.ones(1)}, path)
    assert resolve_checkpoint(str(path)) == str(path)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        resolve_checkpoint(str(tmp_path / 'missing.pth'))


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter."""
    return subprocess.run([sys.executable, '-c', code, *args],
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_refused_in_a_fresh_interpreter(tmp_path):
    """``register_all_modules()``, the entry points' first call, installs the
    loader for MMEngine's paths."""
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    _save(path, _getattr_chain(_touch(marker)), 'message_hub')
    code = ('import sys\n'
            'from mmengine.runner import CheckpointLoader\n'
            'from mmpha.utils import register_all_modules\n'
            'register_all_modules()\n'
            'CheckpointLoader.load_checkpoint(sys.argv[1])\n')
    result = _python(code, str(path))
    assert result.returncode != 0
    assert 'UnsafeCheckpointError' in result.stderr
    assert not marker.exists()


def test_importing_mmpha_leaves_mmengine_loaders_alone():
    """Importing mmpha (all of it) changes no MMEngine loader; the explicit
    call installs mmpha's for the local path and http(s) schemes."""
    code = ('from mmengine.runner import CheckpointLoader as L\n'
            'def loaders():\n'
            '    return {k: f"{v.__module__}.{v.__name__}"\n'
            '            for k, v in L._schemes.items()}\n'
            'before = loaders()\n'
            'import mmpha, mmpha.utils, mmpha.apis, mmpha.engine\n'
            'assert loaders() == before, (before, loaders())\n'
            'assert not any(v.startswith("mmpha") for v in before.values())\n'
            'mmpha.utils.register_all_modules()\n'
            'after = loaders()\n'
            'print(sorted(k for k in after if after[k].startswith("mmpha")))\n'
            'print(after[""])\n')
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['', 'http://', 'https://']",
        'mmpha.utils.checkpoint.load_local_checkpoint'
    ]


def test_reid_runner_installs_the_loader():
    """A Runner built without the tools still gets the safe loader."""
    code = ('from mmengine.runner import CheckpointLoader as L\n'
            'from mmpha.engine.runner import ReIDRunner\n'
            'try:\n'
            '    ReIDRunner()  # no model: refused after its first line\n'
            'except TypeError:\n'
            '    pass\n'
            'print(L._schemes[""].__module__)\n')
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'mmpha.utils.checkpoint'


def test_config_checkpoints_are_checked_before_a_run(tmp_path):
    from mmengine.config import Config

    from mmpha.utils.checkpoint import (check_config_checkpoints,
                                        config_checkpoints)
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(1)}, good)
    evil = tmp_path / 'evil.pth'
    marker = tmp_path / 'ran'
    _save(evil, _getattr_chain(_touch(marker)), 'meta')
    cfg = Config(
        dict(
            load_from=str(good),
            model=dict(
                type='ReIDModel',
                backbone=dict(
                    type='TransReIDViT',
                    init_cfg=[
                        dict(type='TruncNormal', layer='Linear'),
                        dict(type='Pretrained', checkpoint=str(evil))
                    ]))))
    assert config_checkpoints(cfg) == [str(good), str(evil)]
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        check_config_checkpoints(cfg)
    assert not marker.exists()
    cfg.model.backbone.init_cfg[1].checkpoint = str(good)
    assert check_config_checkpoints(cfg) == [str(good), str(good)]
    cfg.load_from = str(tmp_path / 'typo.pth')
    with pytest.raises(FileNotFoundError, match='typo.pth.*load_from'):
        check_config_checkpoints(cfg)
    cfg.load_from = str(evil)
    cfg.unsafe_load = True
    try:
        check_config_checkpoints(cfg)
        assert not marker.exists()  # checking does not unpickle
    finally:
        set_unsafe_load(False)
