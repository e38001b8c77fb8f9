"""Draw where a re-ID model looks: attention rollout, class-token attention
and Grad-CAM over the images.

ViT models (TransReID, PHA) get attention rollout (Abnar & Zuidema 2020)
and the last block's class-token attention, mapped back to pixels through
the overlapping patch windows; CNN models (BoT) get Grad-CAM on the last
stage. Writes one PNG per image (the image, then one overlay per method)
named after the image, ``attention_panel.png`` with every image, and
``attention_maps.npz`` (method -> ``(M, H, W)`` maps in [0, 1]).

Examples:
    python tools/visualizations/vis_attention.py CONFIG CKPT a.jpg b.jpg \
        --out work_dirs/attention
    python tools/visualizations/vis_attention.py BOT_CONFIG CKPT a.jpg \
        --out work_dirs/attention --method gradcam --target id_logit
"""
import argparse
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import attention_rows, init_model
from mmpha.apis.attention import ALL_METHODS
from mmpha.utils.cli import exit_on_input_error
from mmpha.visualization import attention_titles, draw_frequency_panel


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Attention rollout / CLS attention / Grad-CAM overlays')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--method',
        nargs='+',
        choices=ALL_METHODS,
        help='methods (default: rollout and cls for a ViT, gradcam for a '
        'CNN)')
    parser.add_argument(
        '--discard-ratio',
        type=float,
        default=0.0,
        help='share of the weakest attention entries of each row dropped '
        'in the rollout (0: the paper\'s rollout)')
    parser.add_argument(
        '--head-fusion', choices=['mean', 'max', 'min'], default='mean')
    parser.add_argument(
        '--target',
        choices=['feature_norm', 'id_logit'],
        default='feature_norm',
        help='what Grad-CAM explains')
    parser.add_argument(
        '--alpha', type=float, default=0.5, help='heat-map weight')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def main() -> None:
    """Compute the maps and write the overlays."""
    args = parse_args()
    with exit_on_input_error(ValueError):
        model = init_model(args.config, args.checkpoint, args.device,
                           args.cfg_options)
        rows, maps = attention_rows(
            model,
            args.images,
            args.method,
            batch_size=args.batch_size,
            alpha=args.alpha,
            discard_ratio=args.discard_ratio,
            head_fusion=args.head_fusion,
            target=args.target)
    titles = attention_titles(list(maps))
    mkdir_or_exist(args.out)
    written = []
    for i, (path, row) in enumerate(zip(args.images, rows)):
        stem = osp.splitext(osp.basename(path))[0]
        out_file = osp.join(args.out, f'{i:03d}_{stem}.png')
        mmcv.imwrite(draw_frequency_panel([row], titles), out_file)
        written.append(out_file)
    panel_file = osp.join(args.out, 'attention_panel.png')
    mmcv.imwrite(draw_frequency_panel(rows, titles), panel_file)
    np.savez_compressed(osp.join(args.out, 'attention_maps.npz'), **maps)
    print(f'{len(written)} overlays ({", ".join(maps)}) and {panel_file} '
          f'written to {args.out}')


if __name__ == '__main__':
    main()
