"""Draw PHA's frequency analysis of sample images as one panel.

One row per image: the image at the model's input size, its HF energy map
(one-level Haar DWT, detail bands summed, L2 norm over RGB), the patches
kept for the HF token subsets, and x_hf (the image after the low-frequency
drop); ``--diff`` adds ``|x_hf - x|`` amplified ten times. The frequency
module's settings come from the config's PHA neck (or the paper's defaults
for another config); no checkpoint is needed, the module has no weights.

Examples:
    python tools/analysis_tools/visualize_frequency.py CONFIG --num 6 \
        --out work_dirs/frequency.jpg
    python tools/analysis_tools/visualize_frequency.py CONFIG \
        --images a.jpg b.jpg --out frequency.jpg --diff
"""
import argparse
import os.path as osp

import mmcv
from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import (build_frequency_neck, build_query_dataset,
                        frequency_panel, init_model)
from mmpha.apis.frequency_analysis import evenly_spaced


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Visualise the HF map, the selected patches and x_hf')
    parser.add_argument('config', help='config file')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--images', nargs='+', help='image files')
    source.add_argument(
        '--num',
        type=int,
        default=4,
        help='number of query images of the test set (evenly spaced)')
    parser.add_argument('--out', required=True, help='output image file')
    parser.add_argument(
        '--diff', action='store_true', help='add the |x_hf - x| column')
    parser.add_argument('--keep-ratio', type=float)
    parser.add_argument('--hf-ratio', type=float)
    parser.add_argument('--quant-step', type=float)
    parser.add_argument(
        '--quant-mode', choices=['release', 'hard'], default=None)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def main() -> None:
    """Analyse the images and write the panel."""
    args = parse_args()
    model = init_model(args.config, None, 'cpu', args.cfg_options)
    overrides = {
        key: value
        for key, value in (('keep_ratio', args.keep_ratio), ('hf_ratio',
                                                             args.hf_ratio),
                           ('quant_step', args.quant_step), ('quant_mode',
                                                             args.quant_mode))
        if value is not None
    }
    neck = build_frequency_neck(model, **overrides)
    if args.images:
        images, indices = args.images, None
    else:
        images = build_query_dataset(model.cfg)
        indices = evenly_spaced(len(images), args.num)
    panel = frequency_panel(model, images, indices, neck, args.diff)
    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    mmcv.imwrite(panel, args.out)
    print(f'frequency panel of {panel.shape[1]}x{panel.shape[0]} px written '
          f'to {args.out} ({neck.extra_repr()})')


if __name__ == '__main__':
    main()
