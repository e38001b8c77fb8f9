"""Evaluate a trained re-ID model on the query/gallery split of a config.

Examples:
    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --out results.pth
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

# mmpha first: version checks and the weights-only checkpoint loader.
import mmpha  # noqa: F401,I001
from mmpha.engine.runner import ResumeMismatchError
from mmpha.evaluation import check_output_file
from mmpha.registry import RUNNERS
from mmpha.utils import (apply_run_options, register_all_modules,
                         setup_cpu_distributed, teardown_distributed)
from mmpha.utils.cli import exit_on_input_error


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Test a re-ID model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation logs')
    parser.add_argument(
        '--out',
        help='dump the query/gallery features, ids, cameras, image paths '
        'and the metrics to this file (.pth, readable with '
        'torch.load(weights_only=True))')
    parser.add_argument(
        '--non-strict',
        action='store_true',
        help='load a checkpoint whose keys do not all match the model, '
        'skipping the others with a warning (default: such a checkpoint is '
        'an error; one that matches no key is an error always)')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load checkpoints with full unpickling, which can run code from '
        'the file; only for files you trust')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
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
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint "{args.checkpoint}" does not exist')
    cfg.load_from = args.checkpoint
    # A test run only loads; a resume key in the config must not turn it
    # into a search of the work dir.
    cfg.resume = False
    cfg.strict_load = not args.non_strict
    if args.unsafe_load:
        cfg.unsafe_load = True
    if args.out is not None:
        check_output_file(args.out, suffix='.pth', what='--out')
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict) and 'metrics' in evaluator:
            evaluator = evaluator['metrics']
        if not isinstance(evaluator, (list, tuple)):
            evaluator = [evaluator]
        cfg.test_evaluator = list(evaluator) + [
            dict(type='DumpReIDResults', out_file_path=args.out)
        ]
    return cfg


def main() -> None:
    """Build the Runner from the config and run the test loop."""
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = RUNNERS.build(cfg)
    metrics = runner.test()
    if args.out is not None and runner.rank == 0:
        from mmpha.evaluation import append_metrics_to_dump
        append_metrics_to_dump(args.out, metrics)
    teardown_distributed()


if __name__ == '__main__':
    with exit_on_input_error(ResumeMismatchError):
        main()
