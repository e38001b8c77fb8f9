"""Training curves and training time from MMEngine's JSON logs.

The logs are the ``vis_data/scalars.json`` files (or ``TIMESTAMP.json``)
that MMEngine's ``LocalVisBackend`` writes into each run folder of a work
dir; a run folder or a ``vis_data`` folder may be given instead of the file.

Examples:
    # every loss term, lr, mAP and R1 of one run, against iterations
    python tools/analysis_tools/analyze_logs.py plot_curve \
        work_dirs/pha/20260101_000000/vis_data/scalars.json --out curves.png
    # two runs, chosen keys, against epochs
    python tools/analysis_tools/analyze_logs.py plot_curve A.json B.json \
        --keys loss_cls mAP --legend TransReID PHA --xaxis epoch --out c.png
    python tools/analysis_tools/analyze_logs.py cal_train_time A.json
"""
import argparse
import os.path as osp
from typing import Dict, List

import mmpha  # noqa: F401,I001
from mmpha.apis.log_analysis import (TrainingLog, curves_of, find_json_log,
                                     load_json_log, train_time_stats)
from mmpha.utils.cli import exit_on_input_error
from mmpha.visualization.curve_visualizer import plot_training_curves


def run_labels(paths: List[str]) -> List[str]:
    """Legend labels: the run folder of each log (``TIMESTAMP``)."""
    labels = []
    for path in paths:
        path = osp.abspath(find_json_log(path))
        folder = osp.dirname(path)
        if osp.basename(folder) == 'vis_data':
            folder = osp.dirname(folder)
        labels.append(osp.basename(folder) or osp.splitext(path)[0])
    if len(set(labels)) < len(labels):
        labels = [f'{i}: {label}' for i, label in enumerate(labels)]
    return labels


def plot_curve(args: argparse.Namespace) -> None:
    """Draw the curves of the logs."""
    labels = args.legend or run_labels(args.logs)
    if len(labels) != len(args.logs):
        raise ValueError(f'{len(labels)} legend entries for {len(args.logs)}'
                         f' logs: {labels}')
    logs: Dict[str, TrainingLog] = {
        label: load_json_log(path)
        for label, path in zip(labels, args.logs)
    }
    curves = curves_of(logs, args.keys, args.xaxis)
    plot_training_curves(
        curves,
        args.out,
        xlabel='epoch' if args.xaxis == 'epoch' else 'iteration',
        num_cols=args.cols,
        title=args.title or '')
    print(f'{len(curves)} curves ({", ".join(curves)}) of {len(logs)} '
          f'run(s) written to {args.out}')


def cal_train_time(args: argparse.Namespace) -> None:
    """Print the training time of each log."""
    for path in args.logs:
        stats = train_time_stats(load_json_log(path), args.include_outliers)
        slow, fast = stats['slowest_epoch'], stats['fastest_epoch']
        print(f'-----Analyse train time of {path}-----')
        print(f'average iter time: {stats["avg_iter_time"]:.4f} s/iter')
        print(f'slowest epoch {slow[0]}, average time is {slow[1]:.4f} '
              's/iter')
        print(f'fastest epoch {fast[0]}, average time is {fast[1]:.4f} '
              's/iter')
        print(f'time std over epochs is {stats["std_over_epochs"]:.4f}')


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Analyse JSON logs')
    sub = parser.add_subparsers(dest='task', required=True)
    plot = sub.add_parser('plot_curve', help='draw training curves')
    plot.add_argument('logs', nargs='+', help='JSON logs (or run folders)')
    plot.add_argument(
        '--keys',
        nargs='+',
        help='keys to draw (default: every loss term, lr, mAP, R1)')
    plot.add_argument('--legend', nargs='+', help='one label per log')
    plot.add_argument('--xaxis', choices=['iter', 'epoch'], default='iter')
    plot.add_argument('--cols', type=int, default=3, help='panels per row')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', required=True, help='output image (.png)')
    plot.set_defaults(func=plot_curve)
    timing = sub.add_parser('cal_train_time', help='time per iteration')
    timing.add_argument('logs', nargs='+', help='JSON logs (or run folders)')
    timing.add_argument(
        '--include-outliers',
        action='store_true',
        help='keep the first record of each epoch')
    timing.set_defaults(func=cal_train_time)
    return parser.parse_args()


def main() -> None:
    """Run the chosen analysis."""
    args = parse_args()
    with exit_on_input_error(ValueError, KeyError):
        args.func(args)


if __name__ == '__main__':
    main()
