"""Run the SynthReID experiment grid and tabulate mAP / Rank-1 per config.

Every config is trained with ``tools/train.py`` once per seed, with the same
schedule, into ``<work-root>/<name>_s<seed>``, where ``<name>`` is the part of
the config's file name before ``_vit`` (``transreid``, ``pha``,
``pha-wo-pc``, ...). At most ``--jobs`` runs go at a time. The metrics are
read from the last validation record of each run's
``vis_data/scalars.json``, so a grid can be stopped and collected again:
with ``--skip-existing`` a run that already has a final validation is not
repeated. The result is a Markdown table (mean ± sample standard deviation
over the seeds, the per-seed values and the mean wall-clock of a run),
printed and written to ``<work-root>/results.md``; the per-run records go to
``<work-root>/results.json``.

Examples:
    python tools/misc/run_synthreid_experiment.py --seeds 0 1 2 --jobs 2
    python tools/misc/run_synthreid_experiment.py --configs transreid pha \\
        --seeds 0 1 --skip-existing
    python tools/misc/run_synthreid_experiment.py --collect-only
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

#: The grid, in the order of the table: name -> config path.
CONFIG_TAIL = 'vit-tiny-p16-s12_scratch_1xb32-8x4_16e_synthreid-128x64.py'
CONFIGS = {
    'transreid': f'configs/transreid/transreid_{CONFIG_TAIL}',
    'pha': f'configs/pha/pha_{CONFIG_TAIL}',
    'pha-wo-hfx': f'configs/pha/pha-wo-hfx_{CONFIG_TAIL}',
    'pha-wo-hfxhf': f'configs/pha/pha-wo-hfxhf_{CONFIG_TAIL}',
    'pha-wo-pc': f'configs/pha/pha-wo-pc_{CONFIG_TAIL}',
    'pha-wo-lfdrop': f'configs/pha/pha-wo-lfdrop_{CONFIG_TAIL}',
    'pha-hardq': f'configs/pha/pha-hardq_{CONFIG_TAIL}',
    'pha-releaserank': f'configs/pha/pha-releaserank_{CONFIG_TAIL}',
}


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Train the SynthReID grid and tabulate mAP / Rank-1')
    parser.add_argument(
        '--configs',
        nargs='+',
        default=list(CONFIGS),
        choices=list(CONFIGS),
        help='names of the configs to run, in table order')
    parser.add_argument(
        '--seeds', nargs='+', type=int, default=[0, 1, 2], help='seeds')
    parser.add_argument(
        '--jobs', type=int, default=1, help='runs at a time (>= 1)')
    parser.add_argument(
        '--work-root',
        default='work_dirs/exp',
        help='parent of the runs\' work dirs')
    parser.add_argument(
        '--skip-existing',
        action='store_true',
        help='do not repeat a run whose work dir has a final validation')
    parser.add_argument(
        '--collect-only',
        action='store_true',
        help='only read the existing runs and write the table')
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f'--jobs must be >= 1, got {args.jobs}')
    return args


def last_validation(work_dir: str) -> Optional[Dict[str, float]]:
    """The last validation record of the latest run in a work dir.

    Args:
        work_dir (str): A run's work dir.

    Returns:
        dict, optional: ``mAP``, ``R1`` (in %) and ``epoch`` / ``step`` of the
        last record that holds ``mAP``; None when there is none.
    """
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    for path in reversed(files):
        with open(path, encoding='utf-8') as f:
            records = [json.loads(line) for line in f if line.strip()]
        for record in reversed(records):
            if 'mAP' in record and 'R1' in record:
                return dict(
                    mAP=float(record['mAP']),
                    R1=float(record['R1']),
                    step=record.get('step'))
    return None


def run_one(name: str, config: str, seed: int, work_root: str) -> Dict:
    """Train one config with one seed, logging to ``<work dir>/train.log``.

    Args:
        name (str): Short name of the config.
        config (str): Config path.
        seed (int): ``randomness.seed``.
        work_root (str): Parent of the work dir.

    Returns:
        dict: ``name``, ``seed``, ``work_dir``, ``returncode``, ``wall_s``.
    """
    work_dir = osp.join(work_root, f'{name}_s{seed}')
    os.makedirs(work_dir, exist_ok=True)
    cmd = [
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', f'randomness.seed={seed}'
    ]
    start = time.perf_counter()
    with open(osp.join(work_dir, 'train.log'), 'w', encoding='utf-8') as log:
        returncode = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    wall_s = time.perf_counter() - start
    with open(osp.join(work_dir, 'wall_s.txt'), 'w', encoding='utf-8') as f:
        f.write(f'{wall_s:.1f}\n')
    status = 'ok' if returncode == 0 else f'FAILED ({returncode})'
    print(f'{name} seed {seed}: {status}, {wall_s:.0f} s', flush=True)
    return dict(
        name=name,
        seed=seed,
        work_dir=work_dir,
        returncode=returncode,
        wall_s=wall_s)


def collect(names: List[str], seeds: List[int], work_root: str) -> List[Dict]:
    """Read the final metrics and wall-clock of every run of the grid.

    Args:
        names (list[str]): Config names.
        seeds (list[int]): Seeds.
        work_root (str): Parent of the work dirs.

    Returns:
        list[dict]: One record per finished run: ``name``, ``seed``, ``mAP``,
        ``R1``, ``wall_s`` (None when unknown).
    """
    records = []
    for name in names:
        for seed in seeds:
            work_dir = osp.join(work_root, f'{name}_s{seed}')
            metrics = last_validation(work_dir)
            if metrics is None:
                continue
            wall_file = osp.join(work_dir, 'wall_s.txt')
            wall_s = None
            if osp.isfile(wall_file):
                with open(wall_file, encoding='utf-8') as f:
                    wall_s = float(f.read().strip())
            records.append(
                dict(
                    name=name,
                    seed=seed,
                    mAP=metrics['mAP'],
                    R1=metrics['R1'],
                    wall_s=wall_s))
    return records


def _mean_std(values: List[float]) -> str:
    """``mean ± std`` (sample std; ``± n/a`` for one value)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return f'{mean:.1f} ± n/a'
    return f'{mean:.1f} ± {statistics.stdev(values):.1f}'


def markdown_table(records: List[Dict], names: List[str]) -> str:
    """The results as a Markdown table, one row per config.

    Args:
        records (list[dict]): Output of :func:`collect`.
        names (list[str]): Row order.

    Returns:
        str: The table.
    """
    lines = [
        '| config | seeds | mAP (mean ± std) | R1 (mean ± std) | '
        'mAP per seed | R1 per seed | wall-clock per run |',
        '| --- | --- | --- | --- | --- | --- | --- |',
    ]
    for name in names:
        rows = sorted((r for r in records if r['name'] == name),
                      key=lambda r: r['seed'])
        if not rows:
            continue
        maps = [r['mAP'] for r in rows]
        r1s = [r['R1'] for r in rows]
        walls = [r['wall_s'] for r in rows if r['wall_s'] is not None]
        wall = f'{statistics.mean(walls):.0f} s' if walls else 'n/a'
        lines.append(f'| {name} | {",".join(str(r["seed"]) for r in rows)} | '
                     f'{_mean_std(maps)} | {_mean_std(r1s)} | '
                     f'{" / ".join(f"{v:.1f}" for v in maps)} | '
                     f'{" / ".join(f"{v:.1f}" for v in r1s)} | {wall} |')
    return '\n'.join(lines)


def main() -> None:
    """Run the grid (unless ``--collect-only``) and write the table."""
    args = parse_args()
    os.makedirs(args.work_root, exist_ok=True)
    if not args.collect_only:
        todo = []
        for seed in args.seeds:
            for name in args.configs:
                work_dir = osp.join(args.work_root, f'{name}_s{seed}')
                if args.skip_existing and last_validation(work_dir):
                    continue
                todo.append((name, CONFIGS[name], seed))
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(
                pool.map(lambda job: run_one(*job, args.work_root), todo))
        failed = [r for r in results if r['returncode'] != 0]
        for r in failed:
            print(f'failed: {r["name"]} seed {r["seed"]}, see '
                  f'{osp.join(r["work_dir"], "train.log")}')
    records = collect(args.configs, args.seeds, args.work_root)
    table = markdown_table(records, args.configs)
    with open(
            osp.join(args.work_root, 'results.md'), 'w',
            encoding='utf-8') as f:
        f.write(table + '\n')
    with open(
            osp.join(args.work_root, 'results.json'), 'w',
            encoding='utf-8') as f:
        json.dump(records, f, indent=1)
    print(table)


if __name__ == '__main__':
    main()
