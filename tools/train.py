"""Train a re-ID model from a config.

Examples:
    python tools/train.py configs/pha/CONFIG.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --amp --resume
    python tools/train.py CONFIG --resume-or-scratch   # restartable job
    bash tools/dist_train.sh CONFIG 8 --auto-scale-lr
"""
import argparse
import os

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

# mmpha is imported before anything imports mmpretrain.models: it checks the
# versions of the OpenMMLab stack and installs the checkpoint loader.
import mmpha  # noqa: F401,I001
from mmpha.engine.runner import ResumeMismatchError
from mmpha.registry import RUNNERS
from mmpha.utils import (apply_run_options, check_pk_batch,
                         register_all_modules, setup_cpu_distributed,
                         teardown_distributed)
from mmpha.utils.cli import exit_on_input_error


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Train a re-ID model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, resume from '
        'the latest checkpoint in the work dir (an error when there is none)')
    parser.add_argument(
        '--resume-or-scratch',
        action='store_true',
        help='resume from the latest checkpoint in the work dir when there '
        'is one, otherwise start from scratch (logged); for jobs that are '
        'restarted with the same command line')
    parser.add_argument(
        '--resume-anyway',
        action='store_true',
        help='resume even when the config differs from the checkpoint\'s in '
        'schedule, optimiser, batch size, sampler or model; the run then '
        'continues with the new values and cannot match an uninterrupted '
        'one')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load checkpoints with full unpickling, which can run code from '
        'the file; only for files you trust')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training (CUDA)')
    parser.add_argument(
        '--amp-dtype',
        choices=['float16', 'bfloat16'],
        default=None,
        help='autocast dtype of --amp (default: the config\'s '
        'optim_wrapper.dtype, else float16); bfloat16 needs no loss scaling')
    parser.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the training step (sets cfg.compile=True, which '
        'MMEngine\'s Runner honours); the first iterations are slow')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        '`auto_scale_lr.base_batch_size` of the config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs; nested keys '
        'with dots, lists as key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torchrun passes --local-rank; older launchers pass --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config."""
    apply_run_options(cfg, args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    # mmpha's Runner refuses to resume from nothing or from another run and
    # to load a checkpoint that does not fit; configs that do not inherit
    # default_runtime.py get it too.
    if 'runner_type' not in cfg:
        cfg.runner_type = 'ReIDRunner'
    check_pk_batch(cfg)

    if args.amp:
        if not torch.cuda.is_available():
            raise ValueError('--amp needs a CUDA device; none is available')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp cannot be combined with optim_wrapper.type='
                f'{optim_wrapper!r}; expected OptimWrapper or AmpOptimWrapper')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if args.amp_dtype is not None:
            cfg.optim_wrapper.dtype = args.amp_dtype
    elif args.amp_dtype is not None:
        raise ValueError(f'--amp-dtype {args.amp_dtype} needs --amp')
    if args.compile:
        cfg.compile = True

    if args.resume_or_scratch and args.resume not in (None, 'auto'):
        raise ValueError(
            f'--resume-or-scratch resumes from the work dir; it cannot be '
            f'combined with --resume {args.resume}, which must exist')
    if args.resume_anyway and args.resume is None and \
            not args.resume_or_scratch:
        raise ValueError('--resume-anyway needs --resume or '
                         '--resume-or-scratch')
    if args.resume == 'auto' or args.resume_or_scratch:
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.resume_or_scratch:
        cfg.resume_or_scratch = True
    if args.resume_anyway:
        cfg.resume_anyway = True
    if args.unsafe_load:
        cfg.unsafe_load = True

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or \
                'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs `auto_scale_lr = dict('
                           'base_batch_size=N)` in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def main() -> None:
    """Build the Runner from the config and train."""
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = RUNNERS.build(cfg)
    runner.train()
    report_final_metrics(runner)
    teardown_distributed()


def report_final_metrics(runner: Runner) -> None:
    """Print the last validation result of the run in one line."""
    scalars = runner.message_hub.log_scalars

    def last(suffix: str):
        for key, buffer in scalars.items():
            if key.startswith('val/') and key.split('/')[-1] == suffix:
                return buffer.current()
        return None

    mAP, rank1 = last('mAP'), last('R1')
    if runner.rank == 0 and mAP is not None and rank1 is not None:
        where = f'epoch {runner.epoch}' if runner.epoch else \
            f'iteration {runner.iter}'
        print(f'Final evaluation ({where}): '
              f'mAP {mAP:.2f}  Rank-1 {rank1:.2f}')


if __name__ == '__main__':
    with exit_on_input_error(ResumeMismatchError):
        main()
