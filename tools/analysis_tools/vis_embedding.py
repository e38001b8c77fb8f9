"""2-D embedding of query and gallery features, coloured by identity.

The features come from a model run on a config's test set
(``CONFIG CHECKPOINT``) or from a dump of ``tools/test.py --out``
(``--features FILE``). They are projected by t-SNE (scikit-learn), UMAP
(umap-learn) or PCA: ``--method auto`` takes the first installed, in that
order. Writes ``embedding.png`` (colour = identity, marker = camera, filled
= query, hollow = gallery) and ``embedding.csv`` (x, y, id, camera, split,
path).

Examples:
    python tools/analysis_tools/vis_embedding.py CONFIG CKPT \
        --out-dir work_dirs/embedding --max-ids 20
    python tools/analysis_tools/vis_embedding.py --features results.pth \
        --method pca --out-dir work_dirs/embedding
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import init_model, load_dump
from mmpha.apis.embedding import (EMBED_METHODS, dump_test_features, embed_2d,
                                  embedding_table, write_embedding_csv)
from mmpha.utils.cli import exit_on_input_error
from mmpha.visualization.embedding_visualizer import plot_embedding


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='t-SNE / UMAP / PCA plot of query and gallery features')
    parser.add_argument('config', nargs='?', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--features',
        help='feature dump of tools/test.py --out (instead '
        'of CONFIG CHECKPOINT)')
    parser.add_argument('--method', choices=EMBED_METHODS, default='auto')
    parser.add_argument(
        '--max-ids',
        type=int,
        help='only the first N identities (sorted), for a readable plot')
    parser.add_argument(
        '--exclude-ids',
        nargs='+',
        type=int,
        default=[],
        help='identities left out, e.g. -1 0 for the junk and distractor '
        'images of a Market-1501-style gallery')
    parser.add_argument(
        '--no-normalize',
        action='store_true',
        help='do not L2-normalise the features first')
    parser.add_argument('--perplexity', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--out-dir', default='work_dirs/embedding', help='output folder')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    args = parser.parse_args()
    if (args.features is None) == (args.checkpoint is None):
        parser.error('give either CONFIG CHECKPOINT or --features FILE')
    return args


def main() -> None:
    """Extract or read the features, project them and write the files."""
    args = parse_args()
    with exit_on_input_error(ValueError, KeyError, ImportError):
        if args.features:
            dump = load_dump(args.features)
        else:
            model = init_model(args.config, args.checkpoint, args.device,
                               args.cfg_options)
            dump = dump_test_features(model, args.batch_size)
        table = embedding_table(dump, args.max_ids, args.exclude_ids)
        coords, method = embed_2d(table['feats'], args.method,
                                  not args.no_normalize, args.seed,
                                  args.perplexity)
    mkdir_or_exist(args.out_dir)
    csv_file = osp.join(args.out_dir, 'embedding.csv')
    png_file = osp.join(args.out_dir, 'embedding.png')
    write_embedding_csv(coords, table, csv_file)
    num_ids = len(set(table['ids'].tolist()))
    plot_embedding(
        coords,
        table['ids'],
        table['cams'],
        table['splits'],
        png_file,
        title=f'{method.upper()} of {len(coords)} images, {num_ids} ids')
    print(f'{method} embedding of {len(coords)} images written: {csv_file}, '
          f'{png_file}')


if __name__ == '__main__':
    main()
