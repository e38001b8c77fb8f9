"""Two processes through tools/dist_train.sh and tools/dist_test.sh.

On a machine without CUDA the scripts run torchrun with the gloo backend and
CPU DistributedDataParallel; this is the distributed path tested in CI.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from _tiny_reid import TRANSREID_CFG, tiny_config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run(cmd, repo_root, timeout=600):
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PORT=str(_free_port()),
        OMP_NUM_THREADS='1')
    return subprocess.run(
        cmd,
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)


@pytest.mark.slow
def test_dist_train_and_test_two_cpu_processes(tmp_path, repo_root,
                                               tiny_data_root):
    cfg = tiny_config(repo_root, TRANSREID_CFG, tiny_data_root,
                      str(tmp_path / 'work'))
    # 2 training ids x 2 cameras x 2 images = 8 images; each rank takes
    # 1 id x 2 images per step, so an epoch is 8 / (2 x 2) = 2 steps.
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.batch_sampler.num_instances = 2
    cfg.val_dataloader.batch_size = 4
    cfg.test_dataloader = cfg.val_dataloader
    cfg.model.head.num_classes = 2
    cfg.train_cfg.max_epochs = 2
    cfg.train_cfg.val_interval = 2
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, save_best='mAP', rule='greater')
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg_path = str(tmp_path / 'tiny_dist.py')
    cfg.dump(cfg_path)

    train = _run(['bash', 'tools/dist_train.sh', cfg_path, '2'], repo_root)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    work = tmp_path / 'work'
    assert osp.isfile(work / 'epoch_2.pth')
    logs = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    assert logs, os.listdir(work)
    records = [json.loads(line) for line in open(logs[0])]
    val = [r for r in records if 'mAP' in r]
    assert val and 0.0 <= val[-1]['mAP'] <= 100.0
    # Both ranks ran: world size 2 is logged, and the epoch length is
    # shared between the ranks (2 steps per epoch, 4 after 2 epochs).
    out_log = glob.glob(str(work / '*' / '*.log'))[0]
    text = open(out_log).read()
    assert 'Distributed training: True' in text, text[:3000]
    assert "backend': 'gloo'" in text or torch.cuda.is_available()
    assert 'GPU number: 2' in text or 'World size: 2' in text, text[:3000]
    train_iters = [r for r in records if 'loss' in r]
    assert train_iters[-1]['iter'] == 4, train_iters

    # The checkpoint written by DDP loads into a plain test run on 2 ranks.
    out = str(tmp_path / 'dump.pth')
    test = _run([
        'bash', 'tools/dist_test.sh', cfg_path,
        str(work / 'epoch_2.pth'), '2', '--out', out, '--work-dir',
        str(tmp_path / 'test_work')
    ], repo_root)
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    dump = torch.load(out, weights_only=True)
    # Every query and gallery image exactly once, in dataset order.
    assert dump['query_feats'].shape[0] == 8
    assert dump['gallery_feats'].shape[0] == 10
    assert set(dump['metrics']) >= {'mAP', 'R1'}
    assert 'mAP' in test.stdout + test.stderr
