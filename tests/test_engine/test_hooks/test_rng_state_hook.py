"""RNGStateHook: generator states saved, restored on resume, kept across
validation."""
import random
from types import SimpleNamespace

import numpy as np
import torch

from mmpha.engine.hooks import RNGStateHook
from mmpha.engine.hooks.rng_state_hook import get_rng_state, set_rng_state
from mmpha.utils.checkpoint import load_local_checkpoint


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(1)),
            float(np.random.randn()))


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    np.random.randn()  # leaves a cached gaussian in NumPy's state
    hook = RNGStateHook()
    checkpoint = dict(meta=dict())
    hook.before_save_checkpoint(None, checkpoint)
    expected = _draw()
    path = str(tmp_path / 'ckpt.pth')
    torch.save(checkpoint, path)
    loaded = load_local_checkpoint(path)

    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    assert _draw() != expected
    hook.after_load_checkpoint(SimpleNamespace(_resume=True), loaded)
    assert _draw() == expected


def test_load_from_without_resume_leaves_generators_alone():
    checkpoint = dict(rng_state=get_rng_state())
    first = _draw()
    RNGStateHook().after_load_checkpoint(
        SimpleNamespace(_resume=False), checkpoint)
    assert _draw() != first
    # An old checkpoint without the state is accepted.
    RNGStateHook().after_load_checkpoint(SimpleNamespace(_resume=True), {})


def test_validation_does_not_shift_the_training_stream():
    hook = RNGStateHook()
    state = get_rng_state()
    expected = _draw()
    set_rng_state(state)
    hook.before_val(None)
    _draw()  # validation draws (a data loader seed, ...)
    hook.after_val(None)
    assert _draw() == expected
