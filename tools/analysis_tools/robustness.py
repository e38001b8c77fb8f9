"""Re-ID accuracy under image corruptions, for one or more models.

Each model (a config and its checkpoint) is evaluated on the test set of
its config, clean and with each corruption at each severity inserted in
the test pipeline (queries only by default; ``--gallery`` corrupts the
gallery too). Prints a table of mAP / Rank-1 per corruption and severity,
the models side by side, and writes ``robustness.csv`` (model, corruption,
severity, mAP, R1) and ``robustness.png`` (mAP against severity, a panel
per corruption, a line per model) to ``--out``.

Corruptions: ``blur``, ``downscale``, ``jpeg``, ``noise``, ``wavelet_hf``
(see docs/en/user_guides/robustness.md).

Examples:
    python tools/analysis_tools/robustness.py \
        transreid.py transreid.pth pha.py pha.pth --labels TransReID PHA
    python tools/analysis_tools/robustness.py CONFIG CKPT \
        --corruptions jpeg wavelet_hf --severities 1 3 5 --gallery
"""
import argparse
import csv
import os.path as osp
import sys
from typing import Dict, List, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import init_model, robustness_benchmark
from mmpha.datasets.transforms.corruptions import CORRUPTIONS, MAX_SEVERITY
from mmpha.utils import register_all_modules
from mmpha.utils.cli import exit_on_input_error

CSV_FIELDS = ('model', 'corruption', 'severity', 'mAP', 'R1')


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='mAP / Rank-1 of re-ID models under image corruptions')
    parser.add_argument(
        'models',
        nargs='+',
        metavar='CONFIG CKPT',
        help='pairs of a config file and its checkpoint')
    parser.add_argument(
        '--corruptions',
        nargs='+',
        default=list(CORRUPTIONS),
        choices=list(CORRUPTIONS),
        help='corruptions to apply (default: all)')
    parser.add_argument(
        '--severities',
        nargs='+',
        type=int,
        default=list(range(1, MAX_SEVERITY + 1)),
        help=f'severities, each in 1..{MAX_SEVERITY} (default: all)')
    parser.add_argument(
        '--gallery',
        action='store_true',
        help='corrupt the gallery images too (default: queries only)')
    parser.add_argument(
        '--seed', type=int, default=0, help='base seed of the noise')
    parser.add_argument(
        '--labels', nargs='+', help='model names, one per config')
    parser.add_argument(
        '--out', default='work_dirs/robustness', help='output folder')
    parser.add_argument('--batch-size', type=int, help='images per batch')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch CPU threads (default: torch\'s choice; 1 is often '
        'faster on a loaded machine)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every config, key=value pairs')
    args = parser.parse_args()
    if len(args.models) % 2:
        parser.error('models must be CONFIG CKPT pairs, got an odd number '
                     f'of paths: {args.models}')
    args.pairs = list(zip(args.models[0::2], args.models[1::2]))
    bad = [s for s in args.severities if not 1 <= s <= MAX_SEVERITY]
    if bad:
        parser.error(f'--severities must be in 1..{MAX_SEVERITY}, got {bad}')
    if args.labels is None:
        args.labels = default_labels([c for c, _ in args.pairs])
    elif len(args.labels) != len(args.pairs):
        parser.error(f'--labels has {len(args.labels)} names for '
                     f'{len(args.pairs)} models')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if len(set(args.labels)) != len(args.labels):
        parser.error(f'--labels must be distinct, got {args.labels}')
    return args


def default_labels(configs: Sequence[str]) -> List[str]:
    """Config file names without ``.py``, numbered where they repeat."""
    names = [osp.splitext(osp.basename(c))[0] for c in configs]
    return [
        f'{n}_{i}' if names.count(n) > 1 else n for i, n in enumerate(names)
    ]


def to_rows(label: str, results: List[dict]) -> List[Dict]:
    """CSV rows of one model's benchmark results."""
    return [
        dict(
            model=label,
            corruption=r['corruption'],
            severity=r['severity'],
            mAP=r['metrics']['mAP'],
            R1=r['metrics']['R1']) for r in results
    ]


def format_table(rows: List[Dict], labels: Sequence[str]) -> str:
    """A Markdown table: a row per corruption and severity, mAP and R1 of
    every model side by side."""
    header = ['corruption', 'severity']
    for label in labels:
        header += [f'{label} mAP', f'{label} R1']
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join(' --- ' for _ in header) + '|'
    ]
    index = {(r['model'], r['corruption'], r['severity']): r for r in rows}
    keys = []
    for r in rows:
        key = (r['corruption'], r['severity'])
        if key not in keys:
            keys.append(key)
    for corruption, severity in keys:
        cells = [corruption, str(severity)]
        for label in labels:
            r = index[(label, corruption, severity)]
            cells += [f'{r["mAP"]:.1f}', f'{r["R1"]:.1f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_csv(rows: List[Dict], path: str) -> None:
    """Write the rows with :data:`CSV_FIELDS`, metrics to 4 decimals."""
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                dict(r, mAP=f'{r["mAP"]:.4f}', R1=f'{r["R1"]:.4f}'))


def plot(rows: List[Dict], labels: Sequence[str], path: str) -> None:
    """mAP against severity, a panel per corruption, a line per model.

    Severity 0 of every panel is the clean mAP.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    corruptions = []
    for r in rows:
        if r['corruption'] != 'clean' and r['corruption'] not in corruptions:
            corruptions.append(r['corruption'])
    fig, axes = plt.subplots(
        1,
        len(corruptions),
        figsize=(3.2 * len(corruptions), 3.2),
        sharey=True,
        squeeze=False)
    for ax, corruption in zip(axes[0], corruptions):
        for label in labels:
            points = sorted(
                (r['severity'], r['mAP']) for r in rows
                if r['model'] == label and r['corruption'] in ('clean',
                                                               corruption))
            ax.plot(*zip(*points), marker='o', label=label)
        ax.set_title(corruption)
        ax.set_xlabel('severity (0 = clean)')
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel('mAP (%)')
    axes[0][-1].legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> List[Dict]:
    """Run the benchmark for every model; return the CSV rows."""
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=True)
    apply_to = 'all' if args.gallery else 'query'
    rows: List[Dict] = []
    for label, (config, checkpoint) in zip(args.labels, args.pairs):
        if not osp.isfile(config):
            raise FileNotFoundError(f'config "{config}" does not exist')
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f'checkpoint "{checkpoint}" does not exist')
        cfg = Config.fromfile(config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model = init_model(cfg, checkpoint, device=args.device)
        print(f'{label}: {config} {checkpoint}', flush=True)
        results = robustness_benchmark(
            model,
            model.cfg,
            args.corruptions,
            args.severities,
            apply_to=apply_to,
            seed=args.seed,
            batch_size=args.batch_size,
            log=lambda line: print(f'  {line}', flush=True))
        rows += to_rows(label, results)
    mkdir_or_exist(args.out)
    csv_path = osp.join(args.out, 'robustness.csv')
    png_path = osp.join(args.out, 'robustness.png')
    write_csv(rows, csv_path)
    plot(rows, args.labels, png_path)
    which = 'queries and gallery' if args.gallery else 'queries'
    print(f'\nCorrupted: {which}; mAP and Rank-1 in %.')
    print(format_table(rows, args.labels))
    print(f'\nWrote {csv_path} and {png_path}')
    return rows


if __name__ == '__main__':
    with exit_on_input_error(KeyError, ValueError):
        main()
    sys.exit(0)
