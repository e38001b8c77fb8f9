"""Tiny runs for the reliability tests: a 2-block ViT on a 16-image SynthReID.

The configs start from the repository's tiny PHA / TransReID SynthReID
configs and shrink the backbone, the images (64 x 32) and the dataset, so a
training epoch is two iterations of 8 images (4 identities x 2).

Tests pass short relative paths (after ``monkeypatch.chdir(tmp_path)``):
MMEngine formats the whole config with yapf for the log and for every
checkpoint, and yapf takes seconds on lines holding long absolute paths.
"""
import copy
import glob
import json
import os.path as osp
import uuid
from typing import Optional

from mmengine.config import Config

PHA_CONFIG = ('configs/pha/pha_vit-tiny-p16-s12_scratch_1xb32-8x4_16e_'
              'synthreid-128x64.py')
TRANSREID_CONFIG = ('configs/transreid/transreid_vit-tiny-p16-s12_scratch_'
                    '1xb32-8x4_16e_synthreid-128x64.py')
TINY_SPEC = dict(
    num_ids=8,
    num_train_ids=4,
    num_cameras=2,
    cams_per_id=2,
    imgs_per_cam=2,
    num_distractors=2,
    img_height=64,
    img_width=32)
IMG_SIZE = (64, 32)
BATCH, K = 8, 2


def train_pipeline(load: Optional[dict] = None) -> list:
    """The SynthReID train pipeline at 64 x 32."""
    h, w = IMG_SIZE
    return [
        load or dict(type='LoadReIDImage'),
        dict(type='Resize', scale=(w, h), interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandomCrop', crop_size=(h, w), padding=2, pad_val=0),
        dict(
            type='RandomErasing',
            erase_prob=0.5,
            min_area_ratio=0.02,
            max_area_ratio=1 / 3,
            mode='rand',
            fill_color=(127.5, 127.5, 127.5),
            fill_std=(127.5, 127.5, 127.5)),
        dict(type='PackReIDInputs'),
    ]


def eval_pipeline() -> list:
    """The SynthReID test pipeline at 64 x 32."""
    h, w = IMG_SIZE
    return [
        dict(type='LoadReIDImage'),
        dict(type='Resize', scale=(w, h), interpolation='bicubic'),
        dict(type='PackReIDInputs'),
    ]


def tiny_cfg(repo_root: str,
             data_root: str,
             work_dir: str,
             max_epochs: int = 2,
             algo: str = 'pha',
             load: Optional[dict] = None,
             seed: int = 0,
             deterministic: bool = True,
             val_interval: Optional[int] = None) -> Config:
    """A runnable tiny config derived from the repository's tiny configs.

    Args:
        repo_root (str): Repository root.
        data_root (str): A generated tiny SynthReID.
        work_dir (str): Work directory of the run.
        max_epochs (int): Epochs. Defaults to 2.
        algo (str): ``'pha'`` or ``'transreid'``. Defaults to ``'pha'``.
        load (dict, optional): Loading transform of the train pipeline.
            Defaults to None (``LoadReIDImage``).
        seed (int): Seed. Defaults to 0.
        deterministic (bool): Deterministic algorithms. Defaults to True.
        val_interval (int, optional): Validation interval in epochs.
            Defaults to None (``max_epochs``).

    Returns:
        Config: The config; checkpoints every epoch, logs every iteration.
    """
    path = PHA_CONFIG if algo == 'pha' else TRANSREID_CONFIG
    cfg = Config.fromfile(osp.join(repo_root, path))
    # serialize_data=False: no gc.collect() per dataset (~0.5 s in a test
    # process) for a list of 16 images.
    dataset = dict(
        type='SynthReID',
        data_root=data_root,
        spec=dict(TINY_SPEC),
        serialize_data=False)
    train_set = dict(dataset, split='train', pipeline=train_pipeline(load))
    test_sets = [
        dict(dataset, split=split, pipeline=eval_pipeline())
        for split in ('query', 'gallery')
    ]
    cfg.merge_from_dict(
        dict(
            model=dict(
                backbone=dict(
                    arch=dict(
                        embed_dims=32,
                        num_layers=2,
                        num_heads=2,
                        feedforward_channels=64),
                    img_size=IMG_SIZE,
                    patch_size=8,
                    stride=6,
                    camera_num=TINY_SPEC['num_cameras'],
                    drop_path_rate=0.1),
                jpm=dict(num_parts=2),
                head=dict(num_classes=TINY_SPEC['num_train_ids'])),
            work_dir=work_dir,
            train_dataloader=dict(
                batch_size=BATCH,
                num_workers=0,
                persistent_workers=False,
                batch_sampler=dict(num_instances=K),
                dataset=train_set),
            val_dataloader=dict(
                batch_size=16,
                num_workers=0,
                persistent_workers=False,
                dataset=dict(datasets=test_sets)),
            train_cfg=dict(
                max_epochs=max_epochs, val_interval=val_interval
                or max_epochs),
            default_hooks=dict(
                logger=dict(interval=1),
                checkpoint=dict(interval=1, max_keep_ckpts=-1,
                                save_best=None)),
            randomness=dict(seed=seed, deterministic=deterministic),
            log_level='WARNING'))
    # Lists are replaced, not merged.
    cfg.param_scheduler = [
        dict(
            type='LinearLR',
            start_factor=0.1,
            by_epoch=True,
            begin=0,
            end=1,
            convert_to_iter_based=True),
        dict(
            type='CosineAnnealingLR',
            T_max=max_epochs,
            eta_min_ratio=0.01,
            by_epoch=True,
            begin=0,
            end=max_epochs,
            convert_to_iter_based=True)
    ]
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    # MMEngine names a run's logger and visualizer after the experiment and
    # the second it started; two runners built within one second would
    # share them (and one run's log would land in the other's work dir).
    cfg.experiment_name = f'tiny_{uuid.uuid4().hex[:12]}'
    return cfg


def read_json_log(work_dir: str, run: int = -1) -> list:
    """The records of one run's ``vis_data/scalars.json`` in a work dir.

    Args:
        work_dir (str): Work directory.
        run (int): Index of the run among the work dir's runs, oldest
            first. Defaults to -1 (the latest).

    Returns:
        list[dict]: One dict per logged iteration or validation.
    """
    files = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    assert files, f'no scalars.json under {work_dir}'
    with open(files[run]) as f:
        return [json.loads(line) for line in f if line.strip()]
