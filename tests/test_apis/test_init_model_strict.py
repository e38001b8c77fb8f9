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


def test_extra_keys_are_an_error_unless_non_strict(tiny_files, tmp_path):
    saved = torch.load(tiny_files['transreid_ckpt'], weights_only=True)
    saved['state_dict']['neck.fc.weight'] = torch.zeros(4, 4)
    extra = str(tmp_path / 'extra.pth')
    torch.save(saved, extra)
    with pytest.raises(
            CheckpointMismatchError,
            match=r'0 missing.*1 unexpected in it: neck\.fc'):
        init_model(tiny_files['transreid_cfg'], extra)
    model = init_model(tiny_files['transreid_cfg'], extra, strict=False)
    torch.testing.assert_close(model.backbone.cls_token,
                               saved['state_dict']['backbone.cls_token'])


def test_pha_head_is_left_out_for_the_transreid_model(tiny_files):
    pha = init_model(tiny_files['pha_cfg'], tiny_files['pha_ckpt'])
    plain = init_model(tiny_files['transreid_cfg'], tiny_files['pha_ckpt'])
    state = plain.state_dict()
    for key, value in pha.state_dict().items():
        if key.startswith('pha_head.'):
            assert key not in state
        else:
            torch.testing.assert_close(state[key], value, rtol=0, atol=0)
    # Only the declared prefix is left out: any other unknown key is not.
    assert plain.ignorable_checkpoint_prefixes == ('pha_head.', )


def test_missing_keys_and_foreign_checkpoints(tiny_files, tmp_path):
    saved = torch.load(
        tiny_files['transreid_ckpt'], weights_only=True)['state_dict']
    dropped = sorted(k for k in saved if k.startswith('head.classifiers.'))
    # BatchNorm step counters are not required.
    required = [k for k in dropped if not k.endswith('num_batches_tracked')]
    assert required
    partial = str(tmp_path / 'partial.pth')
    torch.save({k: v for k, v in saved.items() if k not in dropped}, partial)
    expected = rf'{len(required)} missing from the checkpoint: head\.classif'
    with pytest.raises(CheckpointMismatchError, match=expected):
        init_model(tiny_files['transreid_cfg'], partial)
    foreign = str(tmp_path / 'foreign.pth')
    torch.save({'state_dict': {'x': torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointMismatchError, match='no key of'):
        init_model(tiny_files['transreid_cfg'], foreign, strict=False)
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(tiny_files['transreid_cfg'], str(tmp_path / 'nope.pth'))
