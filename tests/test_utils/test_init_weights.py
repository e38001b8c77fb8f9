import logging

import pytest
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn

from mmpha.utils import init_weights_quietly


class _Recorder(BaseModule):

    def __init__(self, fail=False):
        super().__init__(
            init_cfg=dict(type='Constant', val=0.5, layer='Linear'))
        self.fc = nn.Linear(2, 2)
        self.fail = fail
        self.level_seen = None

    def init_weights(self):
        self.level_seen = MMLogger.get_current_instance().level
        super().init_weights()
        if self.fail:
            raise RuntimeError('boom')


def test_init_weights_quietly_sets_warning_and_restores():
    logger = MMLogger.get_current_instance()
    before = logger.level
    model = _Recorder()
    assert init_weights_quietly(model) is model
    assert model.level_seen == logging.WARNING
    assert float(model.fc.weight[0, 0]) == 0.5
    assert logger.level == before
    failing = _Recorder(fail=True)
    with pytest.raises(RuntimeError, match='boom'):
        init_weights_quietly(failing)
    assert logger.level == before
    plain = nn.Linear(2, 2)
    assert init_weights_quietly(plain) is plain
