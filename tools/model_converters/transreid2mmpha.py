"""Convert a checkpoint of the released TransReID / PHA code to mmpha.

The whole model is mapped (backbone, the last block and norm the release
really runs, the JPM copy, every BNNeck and classifier, PHA's HF branches);
every release tensor left out is listed with the reason. See
docs/en/advanced_guides/reproduce_release.md.

Examples::

    python tools/model_converters/transreid2mmpha.py \\
        transformer_120.pth work_dirs/release/transreid_market.pth
    # Check against a config (grid, SIE, class count) while converting:
    python tools/model_converters/transreid2mmpha.py SRC DST --config CFG
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from mmpha.models.utils import (ReleaseCheckpointError,
                                convert_release_state_dict)
from mmpha.utils import register_all_modules
from mmpha.utils.atomic_io import atomic_torch_save
from mmpha.utils.checkpoint import load_local_checkpoint


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        description='Convert a released TransReID / PHA checkpoint into an '
        'mmpha checkpoint')
    parser.add_argument('src', help='the released checkpoint (.pth)')
    parser.add_argument('dst', help='the mmpha checkpoint to write')
    parser.add_argument(
        '--config',
        help='an mmpha config: the result is checked against its model '
        '(every tensor filled, shapes, SIE) and fitted to it (position '
        'embedding resized to its grid, classifiers for another class count '
        'dropped)')
    parser.add_argument(
        '--src-grid',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='patch grid the release was trained on, when it cannot be '
        'guessed (needed only with --config and another grid)')
    parser.add_argument(
        '--shift-num',
        type=int,
        default=5,
        help="the release config's MODEL.SHIFT_NUM (5 in every released "
        'person re-ID config); the release moves SHIFT_NUM - 1 tokens, and '
        'the converted checkpoint carries that shift (jpm.jpm_shift)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of --config, key=value pairs')
    return parser.parse_args(argv)


def _target(config: str, cfg_options: Optional[dict]):
    """The model of a config: its state dict, grid and interpolation."""
    from mmpha.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_cfg = cfg.model
    # Only the shapes matter: no pretrained weights are read.
    model_cfg.backbone.pop('init_cfg', None)
    model_cfg.pop('init_cfg', None)
    model = MODELS.build(model_cfg)
    return (model.state_dict(), model.backbone.grid,
            getattr(model.backbone, 'interpolate_mode', 'bilinear'))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert ``src`` into ``dst``.

    Args:
        argv (Sequence[str], optional): Arguments; None reads ``sys.argv``.
            Defaults to None.

    Returns:
        int: 0 on success.

    Raises:
        SystemExit: With a message naming the file and the problem when
            ``src`` is missing, unsafe to load or not a released checkpoint,
            or does not fit ``--config``.
    """
    args = parse_args(argv)
    register_all_modules(init_default_scope=True)
    if osp.abspath(args.src) == osp.abspath(args.dst):
        raise SystemExit('error: dst must differ from src (the released '
                         f'checkpoint is kept): {args.dst}')
    try:
        checkpoint = load_local_checkpoint(args.src, map_location='cpu')
    except FileNotFoundError as err:
        raise SystemExit(f'error: {err}') from err
    except Exception as err:  # refused by the weights-only loader
        raise SystemExit(f'error: cannot load "{args.src}" safely: {err}') \
            from err
    kwargs = {}
    if args.config:
        target, grid, mode = _target(args.config, args.cfg_options)
        kwargs = dict(target=target, dst_grid=grid, mode=mode)
    try:
        state_dict, report = convert_release_state_dict(
            checkpoint,
            src_grid=args.src_grid,
            shift_num=args.shift_num,
            **kwargs)
    except (ReleaseCheckpointError, TypeError, ValueError) as err:
        raise SystemExit(f'error: "{args.src}": {err}') from err
    meta = dict(
        converted_from=osp.basename(args.src),
        release_layout=report.layout,
        release_dropped=dict(report.dropped),
        kept_at_init=dict(report.kept_at_init))
    # Written to a temporary file beside dst, fsync'd and renamed: a crash
    # leaves the old dst or none, never a truncated checkpoint.
    atomic_torch_save(dict(state_dict=state_dict, meta=meta), args.dst)
    print_log(report.summary(), logger='current')
    print_log(
        f'Wrote {len(state_dict)} tensors to {args.dst}', logger='current')
    return 0


if __name__ == '__main__':
    main()
