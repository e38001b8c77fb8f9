"""Export the inference feature extractor to ONNX and check it.

The graph maps a batch of images to features, with a dynamic batch axis:

- input ``images``: float32 ``(batch, 3, H, W)``, raw pixels in 0..255 in
  the channel order of the pipeline (BGR, as OpenCV reads images), resized
  to H x W; normalisation is part of the graph (``--no-preprocess`` leaves
  it out: the input is then the normalised RGB batch);
- input ``cam_ids`` (only with ``--with-cam-ids``, for models with camera
  SIE): int64 ``(batch, )``, 0-based; without it, camera 0 is used;
- output ``features``: float32 ``(batch, D)``, not L2-normalised.

After the export, onnxruntime runs a random batch of another size than the
one traced and the largest absolute difference to PyTorch is printed with
the tolerance; the exit status is 1 when it is exceeded.

Examples:
    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --out work_dirs/model.onnx --shape 256 128
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.utils import mkdir_or_exist

import mmpha  # noqa: F401,I001
from mmpha.apis import export_onnx, init_model, verify_onnx


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Export the re-ID feature extractor to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='checkpoint (random weights when omitted)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size; defaults to the backbone img_size')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument(
        '--with-cam-ids',
        action='store_true',
        help='add a cam_ids input (models with camera SIE only)')
    parser.add_argument(
        '--no-preprocess',
        action='store_true',
        help='leave the normalisation out of the graph')
    parser.add_argument(
        '--check-batch-size',
        type=int,
        default=3,
        help='batch size of the onnxruntime check (the export traces 2)')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest absolute difference accepted in the check')
    parser.add_argument(
        '--skip-check',
        action='store_true',
        help='do not compare with onnxruntime')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def main() -> int:
    """Export, check and report."""
    args = parse_args()
    if not args.out.endswith('.onnx'):
        raise ValueError(f'--out must end with ".onnx", got {args.out!r}')
    model = init_model(args.config, args.checkpoint, 'cpu', args.cfg_options)
    shape = tuple(args.shape or model.backbone.img_size)
    mkdir_or_exist(osp.dirname(osp.abspath(args.out)))
    wrapper = export_onnx(
        model,
        args.out,
        shape,
        opset=args.opset,
        with_preprocess=not args.no_preprocess,
        with_cam_ids=args.with_cam_ids)
    inputs = 'images (batch, 3, %d, %d)' % shape
    if args.with_cam_ids:
        inputs += ', cam_ids (batch, )'
    print(f'exported: {args.out}; inputs: {inputs}; output: features '
          f'(batch, {model.feat_dim})')
    if args.skip_check:
        return 0
    check = verify_onnx(
        wrapper,
        args.out,
        shape,
        batch_size=args.check_batch_size,
        tolerance=args.tolerance)
    verdict = 'OK' if check.passed else 'FAILED'
    print(f'onnxruntime check (batch {check.batch_size}): max abs difference '
          f'{check.max_abs_diff:.3e}, tolerance {check.tolerance:.1e}: '
          f'{verdict}')
    return 0 if check.passed else 1


if __name__ == '__main__':
    sys.exit(main())
