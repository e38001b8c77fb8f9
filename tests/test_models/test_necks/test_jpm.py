import pytest
import torch
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer

from mmpha.models import JPM, jpm_rearrange

C = 16


class _TokenBackbone(torch.nn.Module):
    """The two attributes JPM copies from a token backbone."""

    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.ModuleList(
            [TransformerEncoderLayer(C, 2, 32) for _ in range(2)])
        self.ln1 = torch.nn.LayerNorm(C)


def make_jpm(**kwargs) -> JPM:
    torch.manual_seed(0)
    jpm = JPM(**kwargs)
    jpm.copy_from(_TokenBackbone())
    return jpm


def test_rearrange_hand_made():
    tokens = torch.arange(10.).reshape(1, 10, 1)
    out = jpm_rearrange(tokens, shift=2, groups=2).flatten().tolist()
    # Shift: [2..9, 0, 1]; chunks [2..6] and [7, 8, 9, 0, 1], interleaved.
    assert out == [2, 7, 3, 8, 4, 9, 5, 0, 6, 1]
    odd = torch.arange(7.).reshape(1, 7, 1)
    out = jpm_rearrange(odd, shift=1, groups=2).flatten().tolist()
    # [1..6, 0] padded with its last token to 8, then interleaved.
    assert out == [1, 5, 2, 6, 3, 0, 4, 0]
    assert jpm_rearrange(tokens, 0, 1).flatten().tolist() == list(range(10))


def test_forward_equals_part_by_part():
    jpm = make_jpm(num_parts=4, shift=3, shuffle_groups=2).eval()
    tokens = torch.randn(3, 1 + 18, C)
    local = jpm(tokens)
    assert len(local) == 4 and all(f.shape == (3, C) for f in local)
    shuffled = jpm_rearrange(tokens[:, 1:], 3, 2)
    part_len = 18 // 4
    for i, feat in enumerate(local):
        part = shuffled[:, i * part_len:(i + 1) * part_len]
        seq = torch.cat([tokens[:, :1], part], dim=1)
        expected = jpm.norm(jpm.block(seq))[:, 0]
        torch.testing.assert_close(feat, expected, atol=1e-5, rtol=1e-5)


def test_forward_without_rearrange_uses_raster_parts():
    jpm = make_jpm(num_parts=2, rearrange=False).eval()
    tokens = torch.randn(2, 1 + 6, C)
    local = jpm(tokens)
    seq = torch.cat([tokens[:, :1], tokens[:, 4:7]], dim=1)
    torch.testing.assert_close(local[1], jpm.norm(jpm.block(seq))[:, 0])


def test_errors():
    with pytest.raises(RuntimeError, match='copy_from'):
        JPM()(torch.randn(1, 9, C))
    with pytest.raises(ValueError, match='cannot be cut'):
        make_jpm(num_parts=4)(torch.randn(1, 3, C))
    with pytest.raises(ValueError, match='num_parts must be a positive int'):
        JPM(num_parts=0)
    with pytest.raises(ValueError, match='shift must be an int >= 0'):
        JPM(shift=-1)
    with pytest.raises(TypeError, match='rearrange must be a bool'):
        JPM(rearrange=1)
    with pytest.raises(ValueError, match='Linear has none'):
        JPM().copy_from(torch.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match='before copy_from'):
        JPM().sync_from(_TokenBackbone())


def test_copy_and_sync():
    backbone = _TokenBackbone()
    jpm = JPM()
    jpm.copy_from(backbone)
    block, norm = backbone.blocks[-1], backbone.ln1
    assert jpm.block is not block
    torch.testing.assert_close(jpm.block.attn.qkv.weight,
                               block.attn.qkv.weight)
    param = jpm.block.attn.qkv.weight
    with torch.no_grad():
        block.attn.qkv.weight.add_(1.0)
        norm.weight.fill_(3.0)
    assert not torch.equal(param, block.attn.qkv.weight)
    jpm.sync_from(backbone)
    # Same Parameter object (an optimizer holding it stays valid).
    assert jpm.block.attn.qkv.weight is param
    torch.testing.assert_close(param, block.attn.qkv.weight)
    assert torch.all(jpm.norm.weight == 3.0)


def test_shift_travels_with_the_weights(monkeypatch):
    trained = make_jpm(shift=4)
    state = trained.state_dict()
    assert int(state['jpm_shift']) == 4
    fresh = make_jpm(shift=5)
    logged = []
    monkeypatch.setattr('mmpha.models.necks.jpm.print_log',
                        lambda msg, **kwargs: logged.append(msg))
    fresh.load_state_dict(state)
    # The checkpoint's shift wins, and says so.
    assert fresh.shift == 4 and int(fresh.jpm_shift) == 4
    assert 'trained with a JPM shift of 4, the config says 5' in logged[0]
    tokens = torch.randn(2, 1 + 12, C)
    trained.eval(), fresh.eval()
    for a, b in zip(trained(tokens), fresh(tokens)):
        assert torch.equal(a, b)
    # A checkpoint without the buffer keeps the config's shift.
    old = {k: v for k, v in state.items() if k != 'jpm_shift'}
    other = make_jpm(shift=5)
    other.load_state_dict(old)
    assert other.shift == 5 and int(other.jpm_shift) == 5
