"""Search a folder of gallery images for the person in a query image.

Writes one image: the query followed by its top-k gallery images, nearest
first, with their distances. When every file name starts like Market-1501's
(``0002_c1s1_...``, person id then camera), borders are green for the query's
identity and red otherwise; grey when identities are unknown.

Examples:
    python demo/image_search.py query.jpg gallery_dir/ CONFIG CHECKPOINT \
        --topk 10 --out search_result.jpg
"""
import argparse
import os
import os.path as osp
import re
from typing import List, Optional

import mmcv
import numpy as np
from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import extract_features, init_model, search
from mmpha.visualization import RankGridLayout, draw_rank_grid_from_paths

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Re-ID image search demo')
    parser.add_argument('query', help='query image file')
    parser.add_argument('gallery', help='folder of gallery images')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--topk', type=int, default=10)
    parser.add_argument(
        '--out', default='search_result.jpg', help='output image')
    parser.add_argument(
        '--metric', choices=['euclidean', 'cosine'], default='euclidean')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--pid-regex',
        default=r'^(-?\d+)_c(\d+)',
        help='regex whose first group is the person id in a file name')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def list_images(folder: str) -> List[str]:
    """Image files under ``folder`` (recursively), sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'gallery folder "{folder}" does not exist')
    found = sorted(
        osp.join(root, name) for root, _, names in os.walk(folder)
        for name in names if name.lower().endswith(IMG_EXTENSIONS))
    if not found:
        raise FileNotFoundError(f'no image ({"/".join(IMG_EXTENSIONS)}) in '
                                f'"{folder}"')
    return found


def person_id(path: str, pattern: str) -> Optional[int]:
    """The person id of a file name, or None when it does not match."""
    match = re.match(pattern, osp.basename(path))
    return int(match.group(1)) if match else None


def main() -> None:
    """Extract features, search, draw."""
    args = parse_args()
    if not osp.isfile(args.query):
        raise FileNotFoundError(f'query image "{args.query}" does not exist')
    gallery = list_images(args.gallery)
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    q_feat = extract_features(model, [args.query], progress=False)
    g_feats = extract_features(model, gallery, batch_size=args.batch_size)
    dists, indices = search(
        q_feat, g_feats, topk=args.topk, metric=args.metric)
    ranked = [gallery[i] for i in indices[0].tolist()]

    q_pid = person_id(args.query, args.pid_regex)
    g_pids = [person_id(p, args.pid_regex) for p in ranked]
    matches = None
    if q_pid is not None and all(p is not None for p in g_pids):
        matches = np.array([[p == q_pid for p in g_pids]])
    grid, _ = draw_rank_grid_from_paths(
        [args.query], [ranked],
        dists.numpy(),
        matches,
        query_captions=[['query', osp.basename(args.query)[:12]]],
        gallery_captions=[[[osp.basename(p)[:12]] for p in ranked]],
        layout=RankGridLayout())
    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    mmcv.imwrite(grid, args.out)
    for rank, (path, dist) in enumerate(zip(ranked, dists[0].tolist()), 1):
        print(f'{rank:3d}  {dist:.4f}  {path}')
    print(f'result written to {args.out}')


if __name__ == '__main__':
    main()
