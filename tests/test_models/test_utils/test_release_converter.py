"""Released TransReID / PHA checkpoints mapped onto mmpha models."""
import copy
import os.path as osp

import pytest
import torch
from _release_layout import (ARCH, IMG_SIZE, SHIFT_NUM, build, fill_distinct,
                             model_cfg, release_features, to_release)
from mmengine.runner import load_checkpoint

from mmpha.models import TransReIDViT
from mmpha.models.utils import (ReleaseCheckpointError,
                                convert_release_state_dict,
                                convert_vit_checkpoint, detect_release_layout,
                                infer_src_grid, is_release_checkpoint,
                                release_backbone_state_dict,
                                resize_pos_embed_to_grid)
from mmpha.structures import ReIDDataSample

CASES = [
    # layout, camera_num, view_num
    ('transreid', 0, 0),
    ('transreid', 0, 4),
    ('transreid-jpm', 0, 0),
    ('transreid-jpm', 3, 0),
    ('pha', 0, 0),
    ('pha', 3, 2),
]


def _made(repo_root, layout, cam=0, view=0, seed=0, **kwargs):
    cfg = model_cfg(repo_root, layout, cam, view, **kwargs)
    model = build(cfg)
    fill_distinct(model, seed)
    release, dead = to_release(model.state_dict(), layout)
    return cfg, model, release, dead


def _inputs(cam=0, view=0, batch=3, img_size=IMG_SIZE):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(batch, 3, *img_size, generator=gen)
    cams = torch.randint(0, max(cam, 1), (batch, ), generator=gen)
    views = torch.randint(0, max(view, 1), (batch, ), generator=gen)
    samples = []
    for i in range(batch):
        sample = ReIDDataSample()
        if cam:
            sample.set_cam_id(int(cams[i]))
        if view:
            sample.set_view_id(int(views[i]))
        samples.append(sample)
    return x, (cams if cam else None), (views if view else None), samples


def _relative(a, b):
    return float((a - b).norm() / b.norm())


def _feature(model, x, samples):
    with torch.no_grad():
        return model(x, samples, mode='tensor')


@pytest.mark.parametrize('layout,cam,view', CASES)
@pytest.mark.parametrize('module_prefix', [False, True])
def test_round_trip_is_bit_exact_for_every_key(repo_root, layout, cam, view,
                                               module_prefix):
    _, model, release, dead = _made(repo_root, layout, cam, view)
    if module_prefix:
        release = {'module.' + k: v for k, v in release.items()}
    assert detect_release_layout({
        k.replace('module.', ''): v
        for k, v in release.items()
    }) == layout
    target = model.state_dict()
    for kwargs in (dict(target=target, dst_grid=model.backbone.grid), {}):
        converted, report = convert_release_state_dict(release, **kwargs)
        assert sorted(converted) == sorted(target)
        for key, value in target.items():
            assert torch.equal(converted[key], value), key
        assert sorted(report.dropped) == dead
        assert report.kept_at_init == {} and report.resized == {}
        assert len(report.converted) == len(target)
    reasons = report.dropped
    assert 'ImageNet classifier' in reasons['base.fc.weight']
    if layout != 'transreid':
        copy_name = 'b1.0' if layout == 'transreid-jpm' else 'b1_block'
        assert reasons['base.blocks.2.attn.qkv.weight'].endswith(copy_name)
        assert 'never run' in reasons['base.norm.weight']
    if layout == 'pha':
        assert 'never runs' in reasons['b1_block_mask.mlp.fc1.weight']
        assert 'never runs' in reasons['classifier_mask_branch.weight']
        assert 'never runs' in reasons['bottleneck_mask_branch.running_var']
        assert report.converted['bottleneck_mask_adv.weight'] == \
            'pha_head.bnnecks.xhf.weight'
    summary = report.summary()
    assert all(key in summary for key in dead)


@pytest.mark.parametrize('layout,cam,view', CASES)
@pytest.mark.parametrize('neck_feat', ['before', 'after'])
def test_loaded_model_gives_the_release_feature(repo_root, tmp_path, layout,
                                                cam, view, neck_feat):
    cfg, model, release, _ = _made(repo_root, layout, cam, view)
    cfg['head']['neck_feat'] = neck_feat
    model.head.neck_feat = neck_feat
    x, cams, views, samples = _inputs(cam, view)
    expected = release_features(
        release, x, layout, cams, views, view_num=view, neck_feat=neck_feat)
    mine = _feature(model, x, samples)
    assert mine.shape == expected.shape
    assert _relative(mine, expected) < 1e-5

    # model.load_state_dict (the ReIDModel pre-hook), strict.
    loaded = build(cfg)
    loaded.load_state_dict(release)
    assert torch.equal(_feature(loaded, x, samples), mine)
    # load_from / tools: MMEngine's load_checkpoint of the file.
    path = osp.join(tmp_path, 'transformer_120.pth')
    torch.save({'module.' + k: v for k, v in release.items()}, path)
    loaded = build(cfg)
    load_checkpoint(loaded, path, map_location='cpu', strict=True)
    assert torch.equal(_feature(loaded, x, samples), mine)
    # init_cfg=dict(type='Pretrained') on the model: loaded after the JPM
    # copy of the backbone, so b2 is not overwritten by b1.
    cfg_init = copy.deepcopy(cfg)
    cfg_init['init_cfg'] = dict(type='Pretrained', checkpoint=path)
    loaded = build(cfg_init)
    loaded.init_weights()
    assert torch.equal(_feature(loaded, x, samples), mine)


def test_the_shift_switch_is_what_matches_the_release(repo_root):
    cfg, model, release, _ = _made(repo_root, 'transreid-jpm')
    x, _, _, samples = _inputs()
    expected = release_features(release, x, 'transreid-jpm')
    width = release['base.cls_token'].shape[-1]
    # SHIFT_NUM = 5 in the release moves 4 tokens: jpm.shift=4 matches it,
    # jpm.shift=5 (the paper's and mmpha's default) does not.
    assert model.jpm.shift == SHIFT_NUM - 1
    assert _relative(_feature(model, x, samples), expected) < 1e-5
    model.jpm.shift = SHIFT_NUM
    local = _feature(model, x, samples)[:, width:]
    assert _relative(local, expected[:, width:]) > 1e-2


def test_mismatched_grid_resizes_the_position_embedding(repo_root):
    _, _, release, _ = _made(repo_root, 'transreid-jpm')
    # The release at 64x32 (5 x 2 patches), the model at 88x32 (7 x 2).
    cfg = model_cfg(repo_root, 'transreid-jpm', img_size=(88, 32))
    model = build(cfg)
    assert model.backbone.grid == (7, 2)
    assert infer_src_grid(10, (7, 2)) == (5, 2)
    expected = resize_pos_embed_to_grid(
        release['base.pos_embed'], (7, 2), src_grid=(5, 2))
    converted, report = convert_release_state_dict(
        release, target=model.state_dict(), dst_grid=(7, 2))
    assert torch.equal(converted['backbone.pos_embed'], expected)
    assert report.resized['backbone.pos_embed'].startswith('(1, 11, 32) -> '
                                                           '(1, 15, 32)')
    model.load_state_dict(release)
    assert torch.equal(model.backbone.pos_embed.detach(), expected)
    backbone, _ = release_backbone_state_dict(release, dst_grid=(7, 2))
    assert torch.equal(backbone['pos_embed'], expected)
    # A grid that cannot be guessed must be given.
    with pytest.raises(ReleaseCheckpointError, match='give the release grid'):
        infer_src_grid(10, (4, 3))
    explicit, _ = convert_release_state_dict(
        release, dst_grid=(4, 3), src_grid=(5, 2))
    assert torch.equal(
        explicit['backbone.pos_embed'],
        resize_pos_embed_to_grid(
            release['base.pos_embed'], (4, 3), src_grid=(5, 2)))


@pytest.mark.parametrize('layout', ['transreid', 'transreid-jpm', 'pha'])
def test_missing_release_tensors_are_named(repo_root, layout):
    _, model, release, _ = _made(repo_root, layout)
    release.pop('bottleneck.running_mean')
    release.pop('base.blocks.0.mlp.fc1.bias')
    for kwargs in ({}, dict(target=model.state_dict())):
        with pytest.raises(ReleaseCheckpointError) as info:
            convert_release_state_dict(release, **kwargs)
        message = str(info.value)
        assert 'head.bnnecks.0.running_mean' in message
        assert 'backbone.layers.0.ffn.layers.0.0.bias' in message
    if layout != 'transreid':
        _, _, release, _ = _made(repo_root, layout)
        copy_prefix = 'b2.' if layout == 'transreid-jpm' else 'b2_'
        release = {
            k: v
            for k, v in release.items() if not k.startswith(copy_prefix)
        }
        with pytest.raises(ReleaseCheckpointError, match='jpm.norm.bias'):
            convert_release_state_dict(release)
        with pytest.raises(ReleaseCheckpointError, match='jpm.block'):
            model.load_state_dict(release)


@pytest.mark.parametrize('layout', ['transreid-jpm', 'pha'])
def test_another_class_count_loads_for_inference(repo_root, layout):
    _, model, release, _ = _made(repo_root, layout)
    cfg = model_cfg(repo_root, layout, num_classes=11)
    other = build(cfg)
    converted, report = convert_release_state_dict(
        release, target=other.state_dict(), dst_grid=other.backbone.grid)
    classifiers = [f'head.classifiers.{i}.weight' for i in range(5)]
    if layout == 'pha':
        classifiers.append('pha_head.classifier.weight')
    assert sorted(report.kept_at_init) == sorted(classifiers)
    assert not set(classifiers) & set(converted)
    assert 'a classifier for 5 classes, the model has 11' in \
        report.dropped['classifier.weight']
    assert 'another class count' in report.summary()
    other.load_state_dict(release, strict=False)
    x, _, _, samples = _inputs()
    assert torch.equal(
        _feature(other, x, samples), _feature(model, x, samples))


def test_models_without_the_releases_branches(repo_root):
    # A PHA release into the TransReID model: the HF branches are left out.
    _, pha, release, _ = _made(repo_root, 'pha', 3, 0)
    cfg = model_cfg(repo_root, 'pha', camera_num=3, pha=False)
    plain = build(cfg)
    assert not hasattr(plain, 'pha_head')
    _, report = convert_release_state_dict(release, target=plain.state_dict())
    assert 'HF branch' in report.dropped['bottleneck_mask.weight']
    assert 'HF branch' in report.dropped['classifier_mask.weight']
    plain.load_state_dict(release)
    x, _, _, samples = _inputs(cam=3)
    assert torch.equal(_feature(plain, x, samples), _feature(pha, x, samples))
    # A TransReID release into PHA: the training-only HF head stays at init.
    _, jpm, release, _ = _made(repo_root, 'transreid-jpm')
    cfg = model_cfg(repo_root, 'transreid-jpm', pha=True)
    pha = build(cfg)
    _, report = convert_release_state_dict(release, target=pha.state_dict())
    assert 'pha_head.bnnecks.x.running_var' in report.kept_at_init
    pha.load_state_dict(release, strict=False)
    x, _, _, samples = _inputs()
    assert torch.equal(_feature(pha, x, samples), _feature(jpm, x, samples))
    # A JPM release into a jpm=False model: the global feature only.
    cfg = model_cfg(repo_root, 'transreid')
    single = build(cfg)
    _, report = convert_release_state_dict(release, target=single.state_dict())
    assert 'does not have (no jpm)' in report.dropped['b2.0.mlp.fc1.bias']
    single.load_state_dict(release)
    assert torch.equal(
        _feature(single, x, samples),
        _feature(jpm, x, samples)[:, :single.feat_dim])


def test_inconsistent_checkpoints_are_refused(repo_root):
    _, model, release, _ = _made(repo_root, 'transreid-jpm', 3, 0)
    target = model.state_dict()
    with pytest.raises(ReleaseCheckpointError, match="'base.blocks.0.foo'"):
        convert_release_state_dict(
            dict(release, **{'base.blocks.0.foo': torch.zeros(1)}))
    with pytest.raises(ReleaseCheckpointError, match='extra.weight'):
        convert_release_state_dict(
            dict(release, **{'extra.weight': torch.zeros(1)}))
    no_sie = build(model_cfg(repo_root, 'transreid-jpm'))
    with pytest.raises(ReleaseCheckpointError, match='has SIE .3 rows.'):
        no_sie.load_state_dict(release)
    other_sie = build(model_cfg(repo_root, 'transreid-jpm', 4, 0))
    with pytest.raises(
            ReleaseCheckpointError, match='3 SIE rows, the model 4'):
        other_sie.load_state_dict(release)
    _, _, plain_release, _ = _made(repo_root, 'transreid-jpm')
    with pytest.raises(ReleaseCheckpointError, match='release has none'):
        convert_release_state_dict(plain_release, target=target)
    deeper = model_cfg(repo_root, 'transreid-jpm', 3, 0)
    deeper['backbone']['arch']['num_layers'] = 4
    with pytest.raises(ReleaseCheckpointError, match='3 blocks .* model 4'):
        build(deeper).load_state_dict(release)
    with pytest.raises(ReleaseCheckpointError, match='not a checkpoint of'):
        convert_release_state_dict(target)
    # An mmpha checkpoint is not taken for a release one.
    assert not is_release_checkpoint({'state_dict': target})
    assert is_release_checkpoint({'state_dict': release})
    assert detect_release_layout({'base.conv1.weight': torch.zeros(1)}) \
        is None


def test_backbone_pretrained_takes_the_last_block_the_release_runs(
        repo_root, tmp_path):
    _, model, release, _ = _made(repo_root, 'pha', 3, 0)
    path = osp.join(tmp_path, 'pha_release.pth')
    torch.save(release, path)
    backbone = TransReIDViT(arch=dict(ARCH), img_size=IMG_SIZE, camera_num=3)
    result = backbone.load_pretrained(path)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
    assert torch.equal(backbone.layers[-1].attn.qkv.weight,
                       release['b1_block.attn.qkv.weight'])
    # prefix='base.' would put the dead base.blocks.{L-1} in the last block.
    with pytest.raises(ValueError, match='never runs'):
        backbone.load_pretrained(path, prefix='base.')
    with pytest.raises(ValueError, match='not a ViT checkpoint'):
        convert_vit_checkpoint(release)


@pytest.mark.parametrize('layout', ['transreid-jpm', 'pha'])
def test_the_release_shift_travels_with_the_weights(repo_root, tmp_path,
                                                    layout):
    """A default config (shift 5) runs a release checkpoint with its shift.

    The conversion stores ``jpm.jpm_shift = SHIFT_NUM - 1``; JPM takes
    it on at load, whichever shift the config states, so the feature is the
    release's without a config override.
    """
    cfg, _, release, _ = _made(repo_root, layout)
    x, _, _, samples = _inputs()
    expected = release_features(release, x, layout)
    cfg['jpm']['shift'] = SHIFT_NUM  # the shipped configs' value
    raw = build(cfg)
    assert raw.jpm.shift == SHIFT_NUM
    raw.load_state_dict(release)
    assert raw.jpm.shift == SHIFT_NUM - 1
    assert _relative(_feature(raw, x, samples), expected) < 1e-5

    converted, _ = convert_release_state_dict(release)
    assert int(converted['jpm.jpm_shift']) == SHIFT_NUM - 1
    path = osp.join(tmp_path, 'converted.pth')
    torch.save({'state_dict': converted}, path)
    loaded = build(cfg)
    load_checkpoint(loaded, path, map_location='cpu', strict=True)
    assert loaded.jpm.shift == SHIFT_NUM - 1
    assert torch.equal(_feature(loaded, x, samples), _feature(raw, x, samples))

    # Another SHIFT_NUM in the release config gives another shift.
    other, _ = convert_release_state_dict(release, shift_num=8)
    assert int(other['jpm.jpm_shift']) == 7
    with pytest.raises(ValueError, match='shift_num must be a positive int'):
        convert_release_state_dict(release, shift_num=0)

    # An mmpha checkpoint saved without the buffer keeps the config's shift.
    own = {
        k: v
        for k, v in loaded.state_dict().items() if 'jpm_shift' not in k
    }
    fresh = build(cfg)
    fresh.load_state_dict(own, strict=True)
    assert fresh.jpm.shift == SHIFT_NUM
