"""init_model loads checkpoints strictly: a checkpoint of another model is
an error, not a model with random layers."""
import pytest
import torch

from mmpha.apis import init_model
from mmpha.utils.state_dict_load import CheckpointMismatchError


def test_matching_checkpoint_loads_every_weight(tiny_files):
    model = init_model(tiny_files['transreid_cfg'],
                       tiny_files['transreid_ckpt'])
    saved = torch.load(
        tiny_files['transreid_ckpt'], weights_only=True)['state_dict']
    state = model.state_dict()
    assert set(state) == set(saved)
    for key, value in saved.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0)


def test_extra_keys_are_an_error_unless_non_strict(tiny_files):
    with pytest.raises(
            CheckpointMismatchError,
            match=r'0 missing.*unexpected.*pha_head\.'):
        init_model(tiny_files['transreid_cfg'], tiny_files['pha_ckpt'])
    model = init_model(
        tiny_files['transreid_cfg'], tiny_files['pha_ckpt'], strict=False)
    saved = torch.load(tiny_files['pha_ckpt'], weights_only=True)['state_dict']
    torch.testing.assert_close(model.backbone.cls_token,
                               saved['backbone.cls_token'])


def test_missing_keys_and_foreign_checkpoints(tiny_files, tmp_path):
    saved = torch.load(
        tiny_files['transreid_ckpt'], weights_only=True)['state_dict']
    dropped = sorted(k for k in saved if k.startswith('head.'))
    # BatchNorm step counters are not required.
    required = [k for k in dropped if not k.endswith('num_batches_tracked')]
    assert required
    partial = str(tmp_path / 'partial.pth')
    torch.save({k: v for k, v in saved.items() if k not in dropped}, partial)
    with pytest.raises(
            CheckpointMismatchError,
            match=rf'{len(required)} missing from the checkpoint: head\.'):
        init_model(tiny_files['transreid_cfg'], partial)
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'state_dict': {'x': torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointMismatchError, match='no key of'):
        init_model(tiny_files['transreid_cfg'], foreign, strict=False)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(tiny_files['transreid_cfg'], str(tmp_path / 'nope.pth'))
