"""Per-layer similarity of the high- and low-frequency patch groups.

The analysis of the PHA paper (Sec. 3.1): the patches of each query image
are split by the PHA frequency module into the high-frequency (HF) group
(the ``keep_ratio`` patches with the most HF energy) and the low-frequency
(LF) group (the rest); after every transformer block, the cosine similarity
between the mean HF-group feature and the mean LF-group feature is computed
and averaged over the images. Several checkpoints (e.g. TransReID and
PHA) are drawn on one plot: either checkpoints of one config
(``CONFIG CKPT [CKPT2 ...]``) or models of their own configs
(``CONFIG CKPT [CONFIG2 CKPT2 ...]``: an argument ending in ``.py`` starts
a new config, the checkpoints after it are loaded into it). The query
images and the HF / LF groups are those of the first config. Writes
``frequency_similarity.csv`` (one row per layer, a column per checkpoint),
``frequency_similarity_long.csv`` (``layer, model, value``) and
``frequency_similarity.png``.

Examples:
    python tools/analysis_tools/frequency_similarity.py CONFIG \
        transreid.pth pha.pth --labels TransReID PHA --num-images 64
    python tools/analysis_tools/frequency_similarity.py \
        TRANSREID_CONFIG transreid.pth PHA_CONFIG pha.pth \
        --labels TransReID PHA
"""
import argparse
import os.path as osp
from typing import List, Tuple

from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import (compare_frequency_similarity, write_curves_csv,
                        write_curves_long_csv)
from mmpha.utils.cli import exit_on_input_error
from mmpha.visualization import plot_layer_curves


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='HF vs LF patch-group similarity per transformer layer')
    parser.add_argument(
        'config', help='config file (the test set is read '
        'from it)')
    parser.add_argument(
        'checkpoints',
        nargs='+',
        help='one or more checkpoints; a .py file among them starts another '
        'config, whose checkpoints follow it')
    parser.add_argument(
        '--labels', nargs='+', help='curve names, one per checkpoint')
    parser.add_argument(
        '--num-images',
        type=int,
        default=64,
        help='query images used (evenly spaced over the split)')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument(
        '--keep-ratio',
        type=float,
        help='share of patches in the HF group (default: the config\'s PHA '
        'neck, or 0.4)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/frequency_similarity',
        help='output folder')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def config_checkpoint_pairs(config: str,
                            rest: List[str]) -> List[Tuple[str, str]]:
    """``(config, checkpoint)`` runs of ``CONFIG CKPT [CONFIG2 CKPT2 ...]``.

    Args:
        config (str): The first config.
        rest (list[str]): Checkpoints, each ``.py`` file starting another
            config.

    Returns:
        list[tuple[str, str]]: One pair per checkpoint, in order.
    """
    runs, current, count = [], config, 0
    for arg in rest:
        if arg.endswith('.py'):
            if not count:
                raise ValueError(
                    f'config {current} has no checkpoint after '
                    'it; expected CONFIG CKPT [CONFIG2 CKPT2 ...]')
            current, count = arg, 0
            continue
        runs.append((current, arg))
        count += 1
    if not count:
        raise ValueError(f'config {current} has no checkpoint after it; '
                         'expected CONFIG CKPT [CONFIG2 CKPT2 ...]')
    return runs


def main() -> None:
    """Compute, write the CSVs and draw the plot."""
    args = parse_args()
    neck_options = {}
    if args.keep_ratio is not None:
        neck_options['keep_ratio'] = args.keep_ratio
    with exit_on_input_error(ValueError):
        curves = compare_frequency_similarity(
            config_checkpoint_pairs(args.config, args.checkpoints),
            labels=args.labels,
            num_images=args.num_images,
            batch_size=args.batch_size,
            device=args.device,
            cfg_options=args.cfg_options,
            neck_options=neck_options)
    mkdir_or_exist(args.out_dir)
    csv_file = osp.join(args.out_dir, 'frequency_similarity.csv')
    long_file = osp.join(args.out_dir, 'frequency_similarity_long.csv')
    png_file = osp.join(args.out_dir, 'frequency_similarity.png')
    write_curves_csv(curves, csv_file)
    write_curves_long_csv(curves, long_file)
    plot_layer_curves(curves, png_file)
    for label, values in curves.items():
        print(f'{label}: ' + ' '.join(f'{v:.3f}' for v in values.tolist()))
    print(f'written: {csv_file}, {long_file}, {png_file}')


if __name__ == '__main__':
    main()
