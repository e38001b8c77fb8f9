"""Write a grid image of what a config's training pipeline produces.

The samples are drawn in the order of the configured train sampler (so a PK
sampler shows its P identities x K images), passed through the pipeline and
the data preprocessor, brought back to RGB in [0, 1] with
``ReIDDataPreprocessor.to_unit_range`` and tiled with their label
(training id after relabelling) and 0-based camera.

Example::

    python tools/misc/browse_dataset.py configs/_base_/datasets/synthreid.py \
        --output-dir work_dirs/browse --num 32
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log

from mmpha.registry import DATA_SAMPLERS, DATASETS, MODELS
from mmpha.utils import register_all_modules


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write a grid of training-pipeline outputs (PNG).')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--output-dir',
        default='work_dirs/browse_dataset',
        help='folder of the PNG (default: %(default)s)')
    parser.add_argument(
        '--num',
        type=int,
        default=32,
        help='number of samples (default: %(default)s)')
    parser.add_argument(
        '--cols',
        type=int,
        default=0,
        help='samples per row; 0 uses the sampler\'s K when it has one, '
        'else 8 (default: %(default)s)')
    parser.add_argument(
        '--seed', type=int, default=0, help='sampler seed (default: 0)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'train_dataloader.dataset.data_root=data/x')
    return parser.parse_args(argv)


def _label_tile(img: np.ndarray, text: str, header: int) -> np.ndarray:
    """Put a white header with ``text`` above an RGB uint8 image."""
    tile = np.full((img.shape[0] + header, img.shape[1], 3), 255, np.uint8)
    tile[header:] = img
    scale = header / 30.0
    width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
    if width > img.shape[1] - 4:  # shrink long captions to the tile
        scale *= (img.shape[1] - 4) / width
    cv2.putText(tile, text, (2, header - 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def make_grid(images: List[np.ndarray], labels: List[str],
              cols: int) -> np.ndarray:
    """Tile images with their labels.

    Args:
        images (list[np.ndarray]): ``(H, W, 3)`` uint8 RGB images, all of
            the same size.
        labels (list[str]): One caption per image.
        cols (int): Images per row.

    Returns:
        np.ndarray: ``(rows * (H + h), cols * W, 3)`` uint8 RGB grid, ``h``
        the header height and ``rows = ceil(len(images) / cols)``.
    """
    header = max(12, images[0].shape[1] // 6)
    tiles = [_label_tile(i, t, header) for i, t in zip(images, labels)]
    blank = np.full_like(tiles[0], 255)
    rows = -(-len(tiles) // cols)
    tiles += [blank] * (rows * cols - len(tiles))
    return np.concatenate([
        np.concatenate(tiles[r * cols:(r + 1) * cols], axis=1)
        for r in range(rows)
    ])


def browse(cfg: Config,
           output_dir: str,
           num: int = 32,
           cols: int = 0,
           seed: int = 0,
           name: str = 'train_pipeline') -> str:
    """Run the training pipeline of ``cfg`` and write the grid.

    Args:
        cfg (Config): A config with ``train_dataloader`` and a
            ``data_preprocessor`` (top level or in ``model``).
        output_dir (str): Folder of the PNG.
        num (int): Number of samples. Defaults to 32.
        cols (int): Samples per row, 0 for automatic. Defaults to 0.
        seed (int): Sampler seed. Defaults to 0.
        name (str): File name without suffix. Defaults to
            ``'train_pipeline'``.

    Returns:
        str: Path of the written PNG.
    """
    if num < 1:
        raise ValueError(f'--num must be positive, got {num}.')
    register_all_modules()
    loader = cfg.train_dataloader
    dataset = DATASETS.build(loader.dataset)
    sampler_cfg = loader.get('sampler')
    batch_sampler_cfg = loader.get('batch_sampler')
    if sampler_cfg is not None:
        sampler = DATA_SAMPLERS.build(
            sampler_cfg, default_args=dict(dataset=dataset, seed=seed))
        order = list(sampler)
        if batch_sampler_cfg is not None:
            # Built as MMEngine's Runner.build_dataloader builds it.
            batches = DATA_SAMPLERS.build(
                batch_sampler_cfg,
                default_args=dict(
                    sampler=sampler, batch_size=loader.batch_size))
            order = [i for batch in batches for i in batch]
    else:
        order = list(range(len(dataset)))
    indices = [order[i % len(order)] for i in range(num)]
    pre_cfg = cfg.get('data_preprocessor') or cfg.model.data_preprocessor
    preprocessor = MODELS.build(pre_cfg)
    batch = pseudo_collate([dataset[i] for i in indices])
    data = preprocessor(batch, training=True)
    unit = preprocessor.to_unit_range(data['inputs']).clamp(0, 1)
    images = [(img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
              for img in unit]
    labels = [
        f'id{s.gt_label.item()} cam{s.cam_id}' for s in data['data_samples']
    ]
    if cols <= 0:
        k_cfg = batch_sampler_cfg or sampler_cfg or {}
        cols = k_cfg.get('num_instances', 8) * 2
    grid = make_grid(images, labels, min(cols, num))
    os.makedirs(output_dir, exist_ok=True)
    path = osp.join(output_dir, f'{name}.png')
    if not cv2.imwrite(path, grid[..., ::-1]):
        raise OSError(f'Could not write {path}.')
    return path


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Entry point: parse arguments, load the config, write the grid.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        str: Path of the written PNG.
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    name = osp.splitext(osp.basename(args.config))[0] + '_train_pipeline'
    path = browse(cfg, args.output_dir, args.num, args.cols, args.seed, name)
    print_log(f'Wrote {path}', logger='current')
    return path


if __name__ == '__main__':
    main()
