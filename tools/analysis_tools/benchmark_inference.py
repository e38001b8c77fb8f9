"""Inference throughput (images per second) of a config's model.

Random weights unless a checkpoint is given; random input, no data loading.
PHA and TransReID configs of the same backbone give the same figure within
noise, since PHA adds nothing at inference.

Examples:
    python tools/analysis_tools/benchmark_inference.py CONFIG \
        --batch-size 64 --iters 50 --device cuda
"""
import argparse

import torch
from mmengine.config import DictAction

import mmpha  # noqa: F401,I001
from mmpha.apis import benchmark_inference, init_model


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Inference throughput in images per second')
    parser.add_argument('config', help='config file')
    parser.add_argument('--checkpoint', help='optional checkpoint')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size; defaults to the backbone img_size')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='run under torch.autocast (float16 on CUDA, bfloat16 on CPU)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def main() -> None:
    """Time the model and print the throughput."""
    args = parse_args()
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    shape = tuple(args.shape or model.backbone.img_size)
    device_type = torch.device(args.device).type
    dtype = torch.float16 if device_type == 'cuda' else torch.bfloat16
    with torch.autocast(device_type, dtype=dtype, enabled=args.amp):
        result = benchmark_inference(model, shape, args.batch_size, args.iters,
                                     args.warmup)
    print(f'config: {args.config}')
    print(f'device: {args.device}, input: 3x{shape[0]}x{shape[1]}, batch: '
          f'{args.batch_size}, amp: {args.amp}')
    print(f'ms/batch: {result["ms_per_batch"]:.2f} (median of {args.iters})')
    print(f'images/s: {result["images_per_s"]:.1f}')


if __name__ == '__main__':
    main()
