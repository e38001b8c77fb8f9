"""N processes train what one process trains (``cross_rank_batch``).

Two gloo processes on the CPU, each with half of a P x K batch under torch's
DistributedDataParallel, against one process with the whole batch: the
losses, the gradients after DDP's averaging and the BNNecks' running
statistics agree, for a tiny TransReID (with JPM) and a tiny PHA. With the
switch off they differ, as plain DDP training does.
"""
import os

import pytest
import torch
import torch.multiprocessing as mp
from _cross_rank_worker import loss_and_grads, run

from mmpha.models.utils.cross_rank import SyncBatchNorm1d, gather_batch
from mmpha.registry import MODELS

NUM_IDS, K = 8, 4
#: The losses computed on the gathered batch, the same on every rank.
GATHERED = ('loss_triplet', 'loss_hf_x_triplet', 'loss_hf_xhf_triplet',
            'loss_pc_bc', 'loss_pc_ab')


def _configs():
    backbone = dict(
        type='TransReIDViT',
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=(64, 32),
        patch_size=8,
        stride=6,
        drop_path_rate=0.0)
    head = dict(
        type='ReIDHead',
        num_classes=NUM_IDS,
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
        loss_triplet=dict(type='TripletLoss', margin=None))
    transreid = dict(
        type='ReIDModel',
        backbone=backbone,
        jpm=dict(type='JPM', num_parts=2),
        head=head)
    return dict(transreid=transreid, pha=dict(transreid, type='PHA'))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp(min=1e-12))


@pytest.fixture(scope='module')
def two_rank_results(tmp_path_factory):
    work = tmp_path_factory.mktemp('cross_rank')
    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand(NUM_IDS * K, 3, 64, 32, generator=gen) * 2 - 1
    # Identity by identity, as PKSampler lays a batch out: rank 0 holds
    # identities 0-3, rank 1 identities 4-7.
    labels = torch.arange(NUM_IDS).repeat_interleave(K)
    configs = _configs()
    weights, reference = {}, {}
    for name, cfg in configs.items():
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg, cross_rank_batch=True))
        model.init_weights()
        weights[name] = {k: v.clone() for k, v in model.state_dict().items()}
        model.train()
        reference[name] = loss_and_grads(model, inputs, labels)
    torch.save(
        dict(inputs=inputs, labels=labels, configs=configs, weights=weights),
        work / 'case.pt')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    mp.spawn(run, args=(2, str(work / 'init'), str(work)), nprocs=2, join=True)
    ranks = [torch.load(work / f'rank{r}.pt') for r in range(2)]
    return reference, ranks


@pytest.mark.slow
@pytest.mark.parametrize('name', ['transreid', 'pha'])
def test_two_processes_train_like_one(two_rank_results, name):
    reference, ranks = two_rank_results
    ref_losses, ref_grads, ref_stats = reference[name]
    per_rank = [rank[(name, True)] for rank in ranks]
    for key, value in ref_losses.items():
        if 'loss' not in key:
            continue
        # DDP averages the per-rank objectives: the mean over ranks is the
        # one-process loss (the ID loss is a per-sample mean over equal
        # slices, the gathered losses are the same on every rank).
        mean = sum(losses[key] for losses, _, _ in per_rank) / len(per_rank)
        assert mean == pytest.approx(value, rel=1e-5, abs=1e-7), key
        if key in GATHERED:
            for losses, _, _ in per_rank:
                assert losses[key] == pytest.approx(value, rel=1e-5), key
    scale = torch.cat([g.flatten() for g in ref_grads.values()]).norm()
    for losses, grads, stats in per_rank:
        assert set(grads) == set(ref_grads)
        for param, grad in ref_grads.items():
            # Relative to the parameter's gradient; a gradient that is
            # zero in exact arithmetic (a LayerNorm bias before the BNNeck)
            # is float32 noise, held to 1e-7 of the whole gradient.
            error = float((grads[param] - grad).norm())
            assert error <= 1e-5 * float(grad.norm()) + 1e-7 * float(scale), (
                param, error, float(grad.norm()))
        # SyncBatchNorm1d: the running statistics of the global batch.
        assert set(stats) == set(ref_stats) and stats
        for buf, value in ref_stats.items():
            assert _rel(stats[buf], value) < 1e-5, buf


@pytest.mark.slow
@pytest.mark.parametrize('name', ['transreid', 'pha'])
def test_without_the_switch_ranks_train_on_their_slice(two_rank_results, name):
    reference, ranks = two_rank_results
    ref_losses, ref_grads, ref_stats = reference[name]
    losses, grads, stats = ranks[0][(name, False)]
    assert abs(losses['loss_triplet'] - ref_losses['loss_triplet']) > 1e-4
    worst = max(_rel(grads[p], g) for p, g in ref_grads.items())
    assert worst > 1e-2, worst
    assert max(_rel(stats[b], v) for b, v in ref_stats.items()) > 1e-3


def test_one_process_sync_bn_is_batch_norm():
    torch.manual_seed(0)
    plain = torch.nn.BatchNorm1d(6)
    plain.bias.requires_grad_(False)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6), plain)
    converted = SyncBatchNorm1d.convert(
        torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6)))
    converted.load_state_dict(model.state_dict())
    assert type(converted[1]) is SyncBatchNorm1d
    x = torch.randn(5, 3)
    torch.testing.assert_close(converted(x), model(x))
    torch.testing.assert_close(converted[1].running_var, plain.running_var)
    # Frozen BNNeck bias stays frozen.
    converted = SyncBatchNorm1d.convert(model)
    assert not converted[1].bias.requires_grad


@pytest.mark.slow
def test_uneven_rank_batches_are_refused(two_rank_results):
    _, ranks = two_rank_results
    for rank in ranks:
        assert 'the ranks hold batches of sizes [1, 2]' in rank['uneven']


def test_one_process_gather_is_the_identity():
    feats = torch.randn(4, 3, requires_grad=True)
    labels = torch.arange(4)
    out = gather_batch(feats, None, labels)
    assert out[0] is feats and out[1] is None and out[2] is labels
    with pytest.raises(ValueError, match=r'dim-0 sizes \[4, 3\]'):
        gather_batch(feats, labels[:3])


def test_switch_sets_the_losses_and_the_bnnecks():
    cfg = _configs()['pha']
    on = MODELS.build(dict(cfg, cross_rank_batch=True))
    off = MODELS.build(dict(cfg, cross_rank_batch=False))
    for model, flag in ((on, True), (off, False)):
        losses = [
            m for m in model.modules() if hasattr(m, 'gather_across_ranks')
        ]
        assert len(losses) == 3  # head and HF head triplet, contrastive
        assert all(m.gather_across_ranks is flag for m in losses)
        bns = [
            m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)
        ]
        assert len(bns) == 3 + 2  # global + 2 JPM, 2 HF branches
        assert all((type(m) is SyncBatchNorm1d) is flag for m in bns)
        assert all(not m.bias.requires_grad for m in bns)
    with pytest.raises(TypeError, match='cross_rank_batch must be a bool'):
        MODELS.build(dict(cfg, cross_rank_batch='yes'))
