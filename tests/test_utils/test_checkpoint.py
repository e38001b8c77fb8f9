import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import CheckpointLoader

from mmpha.utils.checkpoint import load_local_checkpoint


def test_training_state_loads_weights_only(tmp_path):
    hub = MessageHub.get_instance('test_ckpt_hub')
    hub.update_scalar('train/loss', 2.5)
    hub.update_info('best', np.float64(0.5))
    path = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(
            state_dict={'w': torch.arange(3.)},
            message_hub=hub.state_dict(),
            meta=dict(epoch=1, arr=np.arange(2))), path)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))
    restored = MessageHub.get_instance('test_ckpt_hub_restored')
    restored.load_state_dict(ckpt['message_hub'])
    assert restored.get_scalar('train/loss').current() == 2.5
    assert ckpt['meta']['epoch'] == 1


class _Payload:
    """A class whose unpickling would run code outside the allow-list."""


def test_arbitrary_objects_are_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Payload()}, path)
    with pytest.raises(
            RuntimeError, match=r'Refusing to unpickle .*evil\.pth'
            r'.*_Payload'):
        load_local_checkpoint(str(path))


def test_missing_file_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_local_checkpoint(str(tmp_path / 'nope.pth'))
