"""The PHA model: losses, gradients, the epoch weight and TransReID parity."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from mmpha.models.reid import PHA, ReIDModel
from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample

NUM_CLASSES = 4


def _backbone(**kwargs):
    cfg = dict(
        type='TransReIDViT',
        arch=dict(
            embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64),
        img_size=(64, 32),
        patch_size=8,
        stride=6)
    cfg.update(kwargs)
    return cfg


def _head():
    return dict(
        type='ReIDHead',
        num_classes=NUM_CLASSES,
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=None))


def _pha_cfg(**kwargs):
    cfg = dict(
        type='PHA',
        backbone=_backbone(),
        jpm=dict(type='JPM', num_parts=2),
        head=_head())
    cfg.update(kwargs)
    return cfg


def _build(cfg, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _batch(batch=6, seed=0, cams=3):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.rand(batch, 3, 64, 32, generator=gen) * 2 - 1
    samples = [
        ReIDDataSample().set_gt_label(i // 2 % NUM_CLASSES).set_cam_id(
            i % cams).set_view_id(0) for i in range(batch)
    ]
    return inputs, samples


ALL_KEYS = {
    'loss_cls', 'loss_triplet', 'accuracy', 'loss_hf_x_cls',
    'loss_hf_x_triplet', 'hf_x_accuracy', 'loss_hf_xhf_cls',
    'loss_hf_xhf_triplet', 'hf_xhf_accuracy', 'hf_weight', 'loss_pc_bc',
    'loss_pc_ab'
}


@pytest.mark.parametrize('switches,absent', [
    (dict(), set()),
    (dict(use_hf_x=False),
     {'loss_hf_x_cls', 'loss_hf_x_triplet', 'hf_x_accuracy'}),
    (dict(use_hf_xhf=False),
     {'loss_hf_xhf_cls', 'loss_hf_xhf_triplet', 'hf_xhf_accuracy'}),
    (dict(use_contrastive=False), {'loss_pc_bc', 'loss_pc_ab'}),
    (dict(use_hf_x=False, use_hf_xhf=False, use_contrastive=False),
     ALL_KEYS - {'loss_cls', 'loss_triplet', 'accuracy'}),
])
def test_loss_keys_and_every_parameter_gets_a_gradient(switches, absent):
    model = _build(_pha_cfg(**switches))
    model.train()
    # Batch of 6 (3 ids x 2): neither divisible by 4 nor K = 4.
    inputs, samples = _batch(6)
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == ALL_KEYS - absent
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    total.backward()
    no_grad = [
        name for name, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ]
    assert no_grad == []
    if model.pha_head is not None:
        assert model.pha_head.classifier.weight.grad.abs().sum() > 0
        for bnneck in model.pha_head.bnnecks.values():
            assert bnneck.weight.grad.abs().sum() > 0
            assert not bnneck.bias.requires_grad


def test_gradients_with_sie_and_lf_drop_off():
    cfg = _pha_cfg(
        backbone=_backbone(camera_num=3, view_num=2),
        neck=dict(type='PHANeck', use_lf_drop=False, quant_mode='hard'))
    model = _build(cfg)
    inputs, samples = _batch(5)
    for i, s in enumerate(samples):
        s.set_view_id(i % 2)
    losses = model(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)
    assert model.backbone.sie_embed.grad.abs().sum() > 0


def test_x_hf_comes_from_the_same_augmented_batch():
    model = _build(_pha_cfg())
    seen = {}
    neck_forward = model.neck.forward

    def record(x01):
        seen['x01'] = x01.clone()
        out = neck_forward(x01)
        seen['out'] = out
        return out

    model.neck.forward = record
    inputs, samples = _batch(6)
    model(inputs, samples, mode='loss')
    expected = model.data_preprocessor.to_unit_range(inputs)
    assert torch.equal(seen['x01'], expected)
    x_hf01, keep = seen['out']
    assert keep.shape == (6, int(0.4 * 10 * 5))
    # x_hf is the input with only its HF-region low frequencies coarsened.
    assert (x_hf01 - expected).abs().max() < 3 / 255


def test_losses_do_not_depend_on_batch_order():
    model = _build(_pha_cfg())
    inputs, samples = _batch(8, seed=3)
    perm = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])
    ref = model(inputs, samples, mode='loss')
    out = model(inputs[perm], [samples[i] for i in perm], mode='loss')
    for key in ref:
        assert out[key].item() == pytest.approx(
            ref[key].item(), rel=1e-4, abs=1e-5), key


@pytest.mark.parametrize('epoch,weight', [(1, 0.05), (5, 0.25), (10, 0.5),
                                          (20, 0.5)])
def test_hf_weight_follows_the_set_epoch(epoch, weight):
    model = _build(_pha_cfg())
    inputs, samples = _batch(6)
    # Before any set_epoch (outside a runner): epoch 1.
    assert model.current_epoch() == 1
    first = model(inputs, samples, mode='loss')
    # The global the forward read before has no say any more.
    hub = MessageHub.get_current_instance()
    hub.update_info('epoch', 40)
    assert model(inputs, samples, mode='loss')['hf_weight'].item() == \
        pytest.approx(0.05)
    hub.pop_info('epoch')
    model.set_epoch(epoch)
    assert model.current_epoch() == epoch
    losses = model(inputs, samples, mode='loss')
    assert losses['hf_weight'].item() == pytest.approx(weight)
    ratio = weight / 0.05
    for key in ('loss_hf_x_cls', 'loss_hf_xhf_triplet'):
        assert losses[key].item() == pytest.approx(
            ratio * first[key].item(), rel=1e-5)
    # The TransReID and contrastive terms are not weighted.
    assert losses['loss_cls'].item() == pytest.approx(
        first['loss_cls'].item(), rel=1e-6)
    assert losses['loss_pc_bc'].item() == pytest.approx(
        first['loss_pc_bc'].item(), rel=1e-6)


def test_hf_weight_schedule_is_configurable():
    model = _build(
        _pha_cfg(
            pha_head=dict(
                type='PHAHead', hf_weight_schedule=dict(step=0.1, max=0.3))))
    model.set_epoch(2)
    losses = model(*_batch(6), mode='loss')
    assert losses['hf_weight'].item() == pytest.approx(0.2)
    assert model.pha_head.hf_weight(7) == pytest.approx(0.3)
    with pytest.raises(ValueError, match='hf_weight_schedule must be'):
        MODELS.build(
            _pha_cfg(
                pha_head=dict(
                    type='PHAHead', hf_weight_schedule=dict(step=0.1))))


def test_pha_checkpoint_predicts_like_transreid():
    pha = _build(_pha_cfg(backbone=_backbone(camera_num=3)), seed=1)
    # One optimisation step so that the weights are no longer the
    # initial ones.
    optim = torch.optim.SGD(pha.parameters(), lr=0.1)
    losses = pha(*_batch(6, cams=3), mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
    optim.step()

    cfg = _pha_cfg(backbone=_backbone(camera_num=3))
    cfg = dict(
        type='ReIDModel',
        backbone=cfg['backbone'],
        jpm=cfg['jpm'],
        head=cfg['head'])
    transreid = _build(cfg, seed=2)
    assert type(transreid) is ReIDModel
    missing, unexpected = transreid.load_state_dict(
        copy.deepcopy(pha.state_dict()), strict=False)
    assert missing == []
    assert unexpected and all(k.startswith('pha_head.') for k in unexpected)

    pha.eval()
    transreid.eval()
    inputs, samples = _batch(5, seed=9, cams=3)
    with torch.no_grad():
        feats_pha = [s.pred_feature for s in pha(inputs, samples, 'predict')]
        feats_tr = [
            s.pred_feature
            for s in transreid(inputs, copy.deepcopy(samples), 'predict')
        ]
        tensor_pha = pha(inputs, samples, 'tensor')
        tensor_tr = transreid(inputs, samples, 'tensor')
    for a, b in zip(feats_pha, feats_tr):
        assert torch.equal(a, b)
    assert torch.equal(tensor_pha, tensor_tr)
    # The inference modules are the same: PHA only adds training parameters.
    n_pha = sum(p.numel() for n, p in pha.named_parameters()
                if not n.startswith('pha_head.'))
    assert n_pha == sum(p.numel() for p in transreid.parameters())


def test_bad_configuration():
    with pytest.raises(ValueError, match='does not match the backbone'):
        MODELS.build(_pha_cfg(neck=dict(type='PHANeck', patch_size=16)))
    with pytest.raises(TypeError, match='use_hf_x must be a bool'):
        MODELS.build(_pha_cfg(use_hf_x=1))
    with pytest.raises(ValueError, match='epoch must be a positive int'):
        MODELS.build(_pha_cfg()).set_epoch(0)
    assert isinstance(MODELS.build(_pha_cfg()), PHA)


PHA_CONFIGS = sorted(
    glob.glob(
        osp.join(
            osp.dirname(__file__), '..', '..', '..', 'configs', 'pha',
            '*.py')))
TINY_ARCH = dict(
    embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _tiny_model_cfg(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    model.backbone.arch = TINY_ARCH
    model.backbone.init_cfg = None
    return cfg, model


def test_every_pha_config_is_found():
    names = [osp.basename(p) for p in PHA_CONFIGS]
    for dataset in ('market1501', 'msmt17', 'cuhk03-labeled',
                    'cuhk03-detected', 'dukemtmc', 'synthreid'):
        assert any(dataset in n and n.startswith('pha_') for n in names)
    for prefix in ('pha-wo-hfx_', 'pha-wo-hfxhf_', 'pha-wo-pc_',
                   'pha-wo-lfdrop_'):
        assert any(n.startswith(prefix) for n in names), prefix


@pytest.mark.parametrize(
    'path', PHA_CONFIGS, ids=[osp.basename(p)[:40] for p in PHA_CONFIGS])
def test_pha_config_builds_and_runs_a_loss_step(path):
    cfg, model_cfg = _tiny_model_cfg(path)
    model = _build(model_cfg)
    assert isinstance(model, PHA)
    assert cfg.train_dataloader.batch_sampler.type == 'PKBatchSampler'
    assert 'batch_size' not in cfg.train_dataloader.batch_sampler
    h, w = model.backbone.img_size
    camera_num = model.backbone.camera_num
    batch = 8
    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand(batch, 3, h, w, generator=gen) * 2 - 1
    samples = [
        ReIDDataSample().set_gt_label(i // 4).set_cam_id(
            i % max(camera_num, 1)).set_view_id(0) for i in range(batch)
    ]
    losses = model(inputs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)


@pytest.mark.parametrize('name,batch,camera_num,epochs', [
    ('market1501', 48, 0, 120),
    ('msmt17', 48, 15, 120),
    ('cuhk03-labeled', 32, 2, 200),
    ('cuhk03-detected', 32, 2, 200),
    ('dukemtmc', 48, 8, 120),
])
def test_reproduction_configs_have_the_released_settings(
        name, batch, camera_num, epochs):
    path, = [
        p for p in PHA_CONFIGS if osp.basename(p).startswith('pha_vit-base')
        and p.endswith(f'_{name}-256x128.py')
    ]
    cfg = Config.fromfile(path)
    model = cfg.model
    assert model.backbone.arch == 'base'
    assert (model.backbone.patch_size, model.backbone.stride) == (16, 12)
    assert tuple(model.backbone.img_size) == (256, 128)
    assert model.backbone.camera_num == camera_num
    assert model.backbone.init_cfg.type == 'Pretrained'
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.train_dataloader.batch_sampler.num_instances == 4
    assert cfg.train_cfg.max_epochs == epochs
    # The cosine ends with the training (end=None, filled from max_epochs);
    # the warm-up's curve is checked in tests/test_configs.
    from mmpha.utils.config_check import resolve_scheduler_ends
    warmup, cosine = resolve_scheduler_ends(cfg.param_scheduler, cfg.train_cfg)
    assert warmup.type == 'LinearLR' and warmup.end < epochs
    assert cosine.type == 'CosineAnnealingLR'
    assert (cosine.end, cosine.T_max) == (epochs, epochs - cosine.begin)
    assert model.head.loss_triplet.margin is None  # soft margin
    assert model.head.neck_feat == 'before'
    neck = model.neck
    assert (neck.hf_ratio, neck.keep_ratio, neck.quant_step, neck.alpha,
            neck.wave, neck.J) == (0.4, 0.4, 5.0, 0.1, 'haar', 1)
    assert model.pha_head.hf_weight_schedule == dict(step=0.05, max=0.5)
    assert model.use_hf_x and model.use_hf_xhf and model.use_contrastive


def test_tiny_configs_predict_identical_features():
    pha_path, = [
        p for p in PHA_CONFIGS if osp.basename(p) ==
        'pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py'
    ]
    tr_path = osp.join(
        osp.dirname(pha_path), '..', 'transreid',
        osp.basename(pha_path).replace('pha_', 'transreid_', 1))
    _, pha_cfg = _tiny_model_cfg(pha_path)
    _, tr_cfg = _tiny_model_cfg(tr_path)
    assert tr_cfg.type == 'ReIDModel'
    pha = _build(pha_cfg, seed=3)
    transreid = _build(tr_cfg, seed=4)
    missing, unexpected = transreid.load_state_dict(
        pha.state_dict(), strict=False)
    assert missing == []
    assert {k.split('.')[0] for k in unexpected} == {'pha_head'}
    pha.eval()
    transreid.eval()
    h, w = pha.backbone.img_size
    inputs = torch.rand(3, 3, h, w) * 2 - 1
    samples = [ReIDDataSample().set_cam_id(i).set_view_id(0) for i in range(3)]
    with torch.no_grad():
        assert torch.equal(
            pha(inputs, samples, 'tensor'), transreid(inputs, samples,
                                                      'tensor'))


def test_pha_is_vit_only():
    cnn = dict(
        type='ResNet',
        depth=18,
        base_channels=8,
        stem_channels=8,
        strides=(1, 2, 2, 1),
        out_indices=(3, ))
    with pytest.raises(
            ValueError,
            match=r'PHA works on the patch tokens of a ViT \(TransReIDViT\); '
            r'the backbone ResNet has no patch_size, stride, embed'):
        MODELS.build(_pha_cfg(backbone=cnn, jpm=None))
