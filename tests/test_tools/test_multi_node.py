"""Several nodes through tools/dist_train.sh and tools/slurm_train.sh.

Two "nodes" of one process each on localhost (gloo on the CPU) train the
same weights as one node of two processes; tools/slurm_train.sh, run under
stand-ins for ``srun`` and ``scontrol`` that start one task per node as
Slurm does, builds the same two-node torchrun job; a node whose partner
never starts stops within the rendezvous timeout with a message.
"""
import os
import os.path as osp
import socket
import stat
import subprocess
import sys
import time

import pytest
import torch
from _tiny_reid import TRANSREID_CFG, tiny_config

from mmpha.utils.checkpoint import load_local_checkpoint

SRUN_STUB = '''#!/usr/bin/env bash
# Stand-in for srun: one task per node, with the variables Slurm sets.
echo "$@" >> "$SRUN_LOG"
nodes=1
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes=*) nodes=${1#--nodes=}; shift ;;
        -p) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
pids=()
for ((i = 0; i < nodes; i++)); do
    SLURM_NNODES=$nodes SLURM_NODEID=$i SLURM_JOB_ID=4242 \\
        SLURM_JOB_NODELIST="node[1-$nodes]" "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
'''
SCONTROL_STUB = '''#!/usr/bin/env bash
# Stand-in for scontrol show hostnames: every node is this machine.
echo "$@" >> "$SCONTROL_LOG"
echo 127.0.0.1
echo 127.0.0.1
'''
PYTHON_STUB = '''#!/usr/bin/env bash
# Stand-in for python: records the torchrun command line of each node.
echo "node $SLURM_NODEID: $*" >> "$PYTHON_LOG"
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env.update({key: str(value) for key, value in extra.items()})
    return env


def _weights(path) -> dict:
    return load_local_checkpoint(str(path), map_location='cpu')['state_dict']


def _assert_same_weights(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert set(wa) == set(wb)
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, different[:5]


@pytest.fixture(scope='module')
def tiny_cfg(tmp_path_factory, repo_root, tiny_data_root):
    work = tmp_path_factory.mktemp('multi_node')
    cfg = tiny_config(repo_root, TRANSREID_CFG, tiny_data_root,
                      str(work / 'unused'))
    # 2 training ids x 4 images; each rank takes 1 id x 2 images per step:
    # 2 steps per epoch, 2 epochs (the cosine schedule needs more than 1).
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.batch_sampler.num_instances = 2
    cfg.model.head.num_classes = 2
    cfg.train_cfg.max_epochs = 2
    cfg.randomness = dict(seed=0, deterministic=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2)
    path = str(work / 'tiny_multi_node.py')
    cfg.dump(path)
    return path, work


@pytest.fixture(scope='module')
def one_node_two_procs(tiny_cfg, repo_root):
    cfg_path, work = tiny_cfg
    out = work / 'one_node'
    run = subprocess.run([
        'bash', 'tools/dist_train.sh', cfg_path, '2', '--no-validate',
        '--work-dir',
        str(out)
    ],
                         cwd=repo_root,
                         env=_env(PORT=_free_port()),
                         capture_output=True,
                         text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return out / 'epoch_2.pth'


@pytest.mark.slow
def test_two_nodes_train_like_one_node(tiny_cfg, one_node_two_procs,
                                       repo_root):
    cfg_path, work = tiny_cfg
    out = work / 'two_nodes'
    port = _free_port()
    nodes = [
        subprocess.Popen([
            'bash', 'tools/dist_train.sh', cfg_path, '1', '--no-validate',
            '--work-dir',
            str(out)
        ],
                         cwd=repo_root,
                         env=_env(
                             NNODES=2,
                             NODE_RANK=rank,
                             MASTER_ADDR='127.0.0.1',
                             PORT=port),
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         text=True) for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=600) for node in nodes]
    for node, (stdout, stderr) in zip(nodes, outputs):
        assert node.returncode == 0, stdout[-2000:] + stderr[-3000:]
    _assert_same_weights(out / 'epoch_2.pth', one_node_two_procs)


def _slurm_env(tmp_path, **extra) -> dict:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    for name, text in (('srun', SRUN_STUB), ('scontrol', SCONTROL_STUB)):
        stub = bin_dir / name
        stub.write_text(text)
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    return _env(
        PATH=f'{bin_dir}:{os.environ["PATH"]}',
        SRUN_LOG=tmp_path / 'srun.log',
        SCONTROL_LOG=tmp_path / 'scontrol.log',
        **extra)


def test_slurm_train_runs_one_torchrun_per_node(repo_root, tmp_path):
    python = tmp_path / 'python'
    python.write_text(PYTHON_STUB)
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    env = _slurm_env(
        tmp_path,
        GPUS=4,
        GPUS_PER_NODE=2,
        PYTHON=python,
        PYTHON_LOG=tmp_path / 'python.log')
    env.pop('PORT', None)
    run = subprocess.run([
        'bash', 'tools/slurm_train.sh', 'gpu', 'job', 'cfg.py', 'work', '--amp'
    ],
                         cwd=repo_root,
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    srun_args = (tmp_path / 'srun.log').read_text().split()
    for arg in ('-p', 'gpu', '--job-name=job', '--nodes=2', '--ntasks=2',
                '--ntasks-per-node=1', '--gres=gpu:2', '--cpus-per-task=10',
                '--kill-on-bad-exit=1'):
        assert arg in srun_args, srun_args
    # The master address is the first host of the job's node list.
    assert 'show hostnames node[1-2]' in (tmp_path /
                                          'scontrol.log').read_text()
    lines = sorted((tmp_path / 'python.log').read_text().splitlines())
    assert len(lines) == 2, lines
    for node, line in enumerate(lines):
        args = line.split()
        assert args[:2] == ['node', f'{node}:'], args
        for arg in (
                '--nnodes=2',
                f'--node_rank={node}',
                '--master_addr=127.0.0.1',
                '--nproc_per_node=2',
                # 29500 + SLURM_JOB_ID % 10000, the same on every node
                '--master_port=33742',
                '--rdzv_conf=timeout=900',
                'cfg.py',
                '--launcher',
                'pytorch',
                '--work-dir=work',
                '--amp'):
            assert arg in args, (arg, args)


def test_slurm_train_checks_the_node_split(repo_root, tmp_path):
    run = subprocess.run(
        ['bash', 'tools/slurm_train.sh', 'p', 'job', 'cfg.py', 'work'],
        cwd=repo_root,
        env=_slurm_env(tmp_path, GPUS=3, GPUS_PER_NODE=2),
        capture_output=True,
        text=True,
        timeout=60)
    assert run.returncode == 2
    assert 'GPUS=3 must be a multiple of GPUS_PER_NODE=2' in run.stderr
    assert not osp.exists(tmp_path / 'srun.log')


@pytest.mark.slow
def test_node_whose_partner_never_starts_stops(tiny_cfg, repo_root):
    cfg_path, work = tiny_cfg
    start = time.time()
    run = subprocess.run([
        'bash', 'tools/dist_train.sh', cfg_path, '1', '--no-validate',
        '--work-dir',
        str(work / 'alone')
    ],
                         cwd=repo_root,
                         env=_env(
                             NNODES=2,
                             NODE_RANK=0,
                             PORT=_free_port(),
                             RDZV_TIMEOUT=5),
                         capture_output=True,
                         text=True,
                         timeout=300)
    elapsed = time.time() - start
    assert run.returncode != 0
    assert 'dist_train.sh: node 0 of 2 stopped' in run.stderr
    assert '1/2 clients joined' in run.stderr, run.stderr[-3000:]
    # The rendezvous timeout (5 s) plus start-up, not torchrun's 900 s.
    assert elapsed < 5 + 60, elapsed
