"""Parameters and FLOPs of the inference model of one or more configs.

PHA is a training-time method: a PHA config and the TransReID config of the
same backbone give the same numbers, which this tool shows side by side.

Examples:
    python tools/analysis_tools/get_flops.py \
        configs/transreid/CONFIG.py configs/pha/CONFIG.py --shape 256 128
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

import mmpha  # noqa: F401,I001
from mmpha.apis import get_complexity, init_model


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the inference model')
    parser.add_argument('configs', nargs='+', help='config file(s)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size; defaults to the backbone img_size')
    parser.add_argument(
        '--show-table',
        action='store_true',
        help='print the FLOPs of every module')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of every config, key=value pairs')
    return parser.parse_args()


def main() -> None:
    """Build each model with random weights and count."""
    args = parse_args()
    rows = []
    for config in args.configs:
        model = init_model(config, None, 'cpu', args.cfg_options)
        shape = tuple(args.shape or model.backbone.img_size)
        info = get_complexity(model, shape, show_table=args.show_table)
        if args.show_table:
            print(f'\n{config}\n{info["table"]}')
        rows.append((osp.basename(config), shape, info))

    header = ('config', 'input', 'FLOPs', 'MACs', 'params (inference)',
              'params (all)')
    table = [header
             ] + [(name, f'3x{s[0]}x{s[1]}', i['flops_str'], i['macs_str'],
                   i['inference_params_str'], i['total_params_str'])
                  for name, s, i in rows]
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    for row in table:
        print('  '.join(cell.ljust(w) for cell, w in zip(row, widths)))
    for name, _, info in rows:
        print(f'{name}: flops={info["flops"]} '
              f'inference_params={info["inference_params"]} '
              f'total_params={info["total_params"]}')
    print('FLOPs count matrix products and convolutions (a multiply-add is '
          '2 FLOPs); "params (inference)" are those the test feature '
          'depends on, "params (all)" include training-only heads.')


if __name__ == '__main__':
    main()
