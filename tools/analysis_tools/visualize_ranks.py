"""Draw the top-k gallery images of some queries of a test run.

The input is the feature dump of ``tools/test.py CONFIG CHECKPOINT --out
results.pth``. Each row shows a query (blue border) and its nearest gallery
images with a green border (same identity) or a red one (another identity),
the rank, the distance, the identity and the camera.

Examples:
    python tools/analysis_tools/visualize_ranks.py results.pth \
        --num-queries 8 --topk 10 --out-dir work_dirs/ranks
"""
import argparse
import logging
import os.path as osp

import mmcv
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import load_dump, rank_dump
from mmpha.visualization import RankGridLayout, draw_rank_grid_from_paths


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Visualise ranked lists from tools/test.py --out')
    parser.add_argument('dump', help='the .pth file of tools/test.py --out')
    parser.add_argument(
        '--num-queries',
        type=int,
        default=8,
        help='number of queries (the first ones, or a random sample with '
        '--shuffle)')
    parser.add_argument(
        '--query-indices',
        type=int,
        nargs='+',
        help='explicit query indices (overrides --num-queries)')
    parser.add_argument(
        '--shuffle',
        action='store_true',
        help='pick the queries at random (seeded by --seed)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--topk', type=int, default=10)
    parser.add_argument(
        '--metric', choices=['euclidean', 'cosine'], default='euclidean')
    parser.add_argument(
        '--no-normalize',
        action='store_true',
        help='do not L2-normalise the features before ranking')
    parser.add_argument(
        '--keep-same-camera',
        action='store_true',
        help='also show gallery images of the same identity and camera as '
        'the query (the evaluation protocol removes them)')
    parser.add_argument(
        '--cell-size',
        type=int,
        nargs=2,
        default=[128, 64],
        metavar=('H', 'W'),
        help='size of each image in the grid')
    parser.add_argument(
        '--out-dir', default='work_dirs/ranks', help='output folder')
    parser.add_argument(
        '--out-name', default='ranks.jpg', help='output file name')
    return parser.parse_args()


def main() -> None:
    """Rank, draw and write the grid."""
    args = parse_args()
    dump = load_dump(args.dump)
    query_indices = args.query_indices
    if query_indices is None and args.shuffle:
        import torch
        gen = torch.Generator().manual_seed(args.seed)
        perm = torch.randperm(len(dump['q_pids']), generator=gen)
        query_indices = perm[:args.num_queries].tolist()
    ranked = rank_dump(
        dump,
        query_indices=query_indices,
        num_queries=args.num_queries,
        topk=args.topk,
        metric=args.metric,
        normalize=not args.no_normalize,
        exclude_same_camera=not args.keep_same_camera)

    q_pids, q_cams = dump['q_pids'], dump['q_camids']
    g_pids, g_cams = dump['g_pids'], dump['g_camids']
    q_paths = [dump['q_img_paths'][i] for i in ranked.query_indices]
    g_paths = [[dump['g_img_paths'][j] for j in row]
               for row in ranked.gallery_indices.tolist()]
    q_captions = [[f'query {i}', f'id {int(q_pids[i])} cam {int(q_cams[i])}']
                  for i in ranked.query_indices]
    g_captions = [[[f'id {int(g_pids[j])} cam {int(g_cams[j])}'] for j in row]
                  for row in ranked.gallery_indices.tolist()]
    layout = RankGridLayout(cell_size=tuple(args.cell_size))
    grid, missing = draw_rank_grid_from_paths(
        q_paths,
        g_paths,
        ranked.dists.numpy(),
        ranked.matches.numpy(),
        query_captions=q_captions,
        gallery_captions=g_captions,
        layout=layout)
    if missing:
        print_log(
            f'{len(missing)} image file(s) could not be read and are drawn '
            'as grey placeholders; the dump stores the paths of the test '
            'run, so run this tool where the dataset lives.',
            logger='current',
            level=logging.WARNING)
    mkdir_or_exist(args.out_dir)
    out_file = osp.join(args.out_dir, args.out_name)
    mmcv.imwrite(grid, out_file)
    print_log(
        f'Ranked lists of {len(q_paths)} queries '
        f'(top-{ranked.gallery_indices.shape[1]}) '
        f'written to {out_file} ({grid.shape[1]}x{grid.shape[0]} px)',
        logger='current')


if __name__ == '__main__':
    main()
