from mmengine.config import ConfigDict

from mmpha.utils import strip_pretrained


def test_strip_pretrained_keeps_other_initialisers():
    cfg = dict(
        backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint='a.pth'),
            pretrained='b.pth'),
        head=dict(init_cfg=[
            dict(type='Normal', std=0.01),
            dict(type='Pretrained', checkpoint='c.pth')
        ]),
        neck=[dict(init_cfg=[dict(type='Pretrained', checkpoint='d.pth')])],
        loss=dict(init_cfg=dict(type='Constant', val=1), pretrained=''))
    assert strip_pretrained(cfg) == 4
    assert cfg['backbone'] == dict(init_cfg=None, pretrained=None)
    assert cfg['head']['init_cfg'] == [dict(type='Normal', std=0.01)]
    assert cfg['neck'] == [dict(init_cfg=None)]
    # Other initialisers and empty strings stay.
    assert cfg['loss'] == dict(
        init_cfg=dict(type='Constant', val=1), pretrained='')
    assert strip_pretrained(cfg) == 0


def test_strip_pretrained_config_dict_and_scalars():
    cfg = ConfigDict(
        model=dict(
            backbone=dict(
                init_cfg=ConfigDict(type='Pretrained', checkpoint='x'))))
    assert strip_pretrained(cfg) == 1
    assert isinstance(cfg.model.backbone, ConfigDict)
    assert cfg.model.backbone.init_cfg is None
    assert strip_pretrained('init_cfg') == 0
    assert strip_pretrained(None) == 0


def test_one_definition_for_the_apis():
    from mmpha.apis.benchmark import strip_pretrained as from_benchmark
    assert from_benchmark is strip_pretrained
