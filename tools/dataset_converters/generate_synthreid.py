"""Generate the SynthReID dataset (Market-1501 layout), cached and atomic.

The same seed and spec always give the same bytes, whatever ``--nproc``;
a folder that already holds them is only checked.

Example:
    python tools/dataset_converters/generate_synthreid.py \
        --out data/synthreid --seed 0
"""
import argparse
from dataclasses import fields
from typing import Optional, Sequence

from mmengine.logging import print_log

from mmpha.datasets.synthreid import SynthReIDSpec, ensure_synthreid


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    defaults = SynthReIDSpec()
    parser = argparse.ArgumentParser(
        description='Generate the SynthReID dataset (Market-1501 layout).')
    parser.add_argument(
        '--out', default='data/synthreid', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--nproc', type=int, default=1, help='worker processes')
    for f in fields(SynthReIDSpec):
        parser.add_argument(
            '--' + f.name.replace('_', '-'),
            type=type(getattr(defaults, f.name)),
            default=getattr(defaults, f.name),
            help=f'{f.name} (default: %(default)s)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Generate SynthReID from the command line (atomic, cached).

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        dict: The content of ``meta.json``.
    """
    args = parse_args(argv)
    spec = SynthReIDSpec(
        **{f.name: getattr(args, f.name)
           for f in fields(SynthReIDSpec)})
    meta = ensure_synthreid(args.out, args.seed, spec, nproc=args.nproc)
    print_log(f'SynthReID at {args.out}: {meta["counts"]}', logger='current')
    return meta


if __name__ == '__main__':
    main()
