"""A checkpoint hook whose files survive a crash and never hold NaN weights."""
import copy
import hashlib
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence

from mmengine.dist import is_main_process, master_only
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmpha.registry import HOOKS
from mmpha.utils.atomic_io import (ATOMIC_BACKEND, register_atomic_backend,
                                   remove_stale_temp_files)
from mmpha.utils.checkpoint_files import (last_finite_checkpoint,
                                          non_finite_in_module,
                                          read_last_checkpoint,
                                          write_last_checkpoint)

#: How many bad tensors an error message lists.
_NAMED_TENSORS = 5


def find_last_finite_checkpoint(runner) -> Optional[str]:
    """The newest checkpoint of a run that loads and has finite weights.

    Tries the run's last checkpoint (``last_ckpt`` in the message hub), then
    the target of the work dir's ``last_checkpoint`` pointer, then every
    ``*.pth`` of their directories, newest first; each is loaded with the
    safe loader and checked tensor by tensor.

    Args:
        runner (Runner): The runner.

    Returns:
        str | None: Absolute path of the checkpoint, or None when there is
        none.
    """
    candidates: List[Optional[str]] = [
        runner.message_hub.get_info('last_ckpt')
    ]
    try:
        candidates.append(read_last_checkpoint(runner.work_dir))
    except (OSError, ValueError):  # a dangling pointer: search the dirs
        pass
    dirs = [osp.dirname(osp.abspath(c)) for c in candidates if c]
    dirs.append(osp.abspath(runner.work_dir))
    return last_finite_checkpoint(candidates, list(dict.fromkeys(dirs)))


def describe_last_finite_checkpoint(runner) -> str:
    """``'the last checkpoint is PATH'`` or that there is none.

    Args:
        runner (Runner): The runner.

    Returns:
        str: The phrase, naming only a checkpoint with finite weights.
    """
    path = find_last_finite_checkpoint(runner)
    if path is None:
        return 'no checkpoint with finite weights has been saved yet'
    return f'the last checkpoint is {path}'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's :class:`~mmengine.hooks.CheckpointHook`, crash-safe.

    Takes every argument of MMEngine's hook (``interval``, ``by_epoch``,
    ``max_keep_ckpts``, ``save_best``, ``rule``, ``out_dir``, ``save_last``,
    ``filename_tmpl``, ``published_keys``, ...) and changes what happens on
    disk:

    1. Before anything is written, every parameter and buffer of the model
       is checked; if one holds NaN or Inf, nothing is written, the best
       checkpoint and score and the pointer are left as they were, and
       :class:`RuntimeError` names the bad tensors and the last checkpoint
       with finite weights.
    2. Checkpoints in a local ``out_dir`` are written atomically (the
       ``'atomic_local'`` file backend): a temporary file in the same
       directory, flushed, ``fsync``'d and renamed.
    3. Only then is ``WORK_DIR/last_checkpoint`` replaced, atomically, by
       the new checkpoint's path relative to the work dir.
    4. Only then are checkpoints beyond ``max_keep_ckpts`` and the previous
       ``best_*`` file removed.

    So a run killed at any moment, or one whose disk fills up during a save,
    leaves its previous checkpoints complete and a pointer that names one of
    them. Temporary files of killed runs are removed when training starts.

    Registered under its own name, so that a config asking for MMEngine's
    ``CheckpointHook`` gets exactly that one; ``default_runtime.py`` uses
    this one. A remote ``out_dir`` or explicit ``backend_args`` /
    ``file_client_args`` keep their backend's own writing (steps 1, 3 and 4
    still apply).

    Args:
        *args: Positional arguments of MMEngine's ``CheckpointHook``.
        **kwargs: Keyword arguments of MMEngine's ``CheckpointHook``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        register_atomic_backend()
        # Until before_train knows out_dir: MMEngine's behaviour.
        self._write_args: Optional[dict] = self.backend_args

    # -- set-up ------------------------------------------------------------

    def before_train(self, runner) -> None:
        """Choose the writing backend and adopt paths of a moved work dir.

        Args:
            runner (Runner): The runner of the training process.
        """
        super().before_train(runner)
        local = (
            self.file_client_args is None and self.backend_args is None
            and type(self.file_backend) is LocalBackend)
        self._write_args = (
            dict(backend=ATOMIC_BACKEND) if local else self.backend_args)
        if local:
            self._adopt_paths(runner)
            if is_main_process():
                for dirname in (self.out_dir, runner.work_dir):
                    for path in remove_stale_temp_files(dirname):
                        runner.logger.info('removed the temporary file '
                                           f'{path} of a killed save')

    def _adopt_paths(self, runner) -> None:
        """Make resumed checkpoint paths point into this run's ``out_dir``.

        A resumed message hub holds the absolute paths of the run that wrote
        it; in a copied or moved work dir they name the original's files,
        which this run must neither recommend nor delete. The hook writes
        every file into ``out_dir``, so the file name locates it.
        """
        hub = runner.message_hub

        def adopt(path: Optional[str]) -> Optional[str]:
            if not path:
                return path
            return osp.join(self.out_dir, osp.basename(path))

        if hub.get_info('last_ckpt'):
            hub.update_info('last_ckpt', adopt(hub.get_info('last_ckpt')))
        if self.save_best is None:
            return
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = adopt(self.best_ckpt_path)
            if self.best_ckpt_path:
                hub.update_info('best_ckpt', self.best_ckpt_path)
        else:
            for key, path in self.best_ckpt_path_dict.items():
                self.best_ckpt_path_dict[key] = adopt(path)
                if path:
                    hub.update_info(f'best_ckpt_{key}', adopt(path))

    # -- checks and helpers ------------------------------------------------

    def _check_finite(self, runner, filename: str) -> None:
        """Raise before ``filename`` is written if the model is not finite.

        Raises:
            RuntimeError: Naming the first bad tensors, how many there are
                and the last checkpoint with finite weights.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        bad = non_finite_in_module(model)
        if not bad:
            return
        names = ', '.join(bad[:_NAMED_TENSORS])
        more = (f' and {len(bad) - _NAMED_TENSORS} more'
                if len(bad) > _NAMED_TENSORS else '')
        message = (
            f'not saving checkpoint {filename}: {len(bad)} parameter(s) or '
            f'buffer(s) of the model hold NaN or Inf ({names}{more}); the '
            'run is stopped, the best checkpoint and last_checkpoint are '
            'unchanged and '
            f'{describe_last_finite_checkpoint(runner)}')
        runner.logger.error(message)
        raise RuntimeError(message)

    def _remove(self, runner, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # DeepSpeed checkpoints are directories.
            self.file_backend.rmtree(path)

    def _save(self, runner, filename: str, meta: dict, **kwargs) -> None:
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            meta=copy.copy(meta),
            backend_args=self._write_args,
            **kwargs)

    @staticmethod
    def _hub_snapshot(runner, keys: Sequence[str]) -> Dict:
        info = runner.message_hub.runtime_info
        return {key: copy.copy(info[key]) for key in keys if key in info}

    @staticmethod
    def _hub_restore(runner, keys: Sequence[str], snapshot: Dict) -> None:
        for key in keys:
            if key in snapshot:
                runner.message_hub.update_info(key, snapshot[key])
            else:
                runner.message_hub.pop_info(key)

    # -- saving ------------------------------------------------------------

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Check, write the checkpoint, then the pointer, then prune."""
        filename = self.filename_tmpl.format(step)
        self._check_finite(runner, filename)

        keys = ('keep_ckpt_ids', 'last_ckpt')
        snapshot = self._hub_snapshot(runner, keys)
        last_ckpt = self.last_ckpt
        kept = list(getattr(self, 'keep_ckpt_ids', []))
        outdated = []
        # Same bookkeeping as MMEngine's hook, but the outdated file is only
        # removed once the new one and the pointer are complete.
        resaved = (
            self.max_keep_ckpts > 0 and len(self.keep_ckpt_ids) > 0
            and self.keep_ckpt_ids[-1] == step)
        if self.max_keep_ckpts > 0 and not resaved:
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        path = self.file_backend.join_path(self.out_dir, filename)
        self.last_ckpt = path
        runner.message_hub.update_info('last_ckpt', path)
        try:
            self._save(
                runner,
                filename,
                meta,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                by_epoch=self.by_epoch,
                **self.args)
        except BaseException:
            # The run stops; what it reports must match the disk.
            self._hub_restore(runner, keys, snapshot)
            self.last_ckpt = last_ckpt
            if self.max_keep_ckpts > 0:
                self.keep_ckpt_ids.clear()
                self.keep_ckpt_ids.extend(kept)
            raise

        if not is_main_process():
            return
        write_last_checkpoint(runner.work_dir, path)
        for old in outdated:
            self._remove(
                runner,
                self.file_backend.join_path(self.out_dir,
                                            self.filename_tmpl.format(old)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """Write a new best checkpoint before removing the previous one."""
        if not self.save_best:
            return
        if self.by_epoch:
            filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        unknown = [k for k in self.key_indicators if k not in metrics]
        if unknown:
            raise ValueError(
                f'save_best names {unknown}, which the evaluation did not '
                f'return; its metrics are {sorted(metrics)}. With several '
                'test sets (MultiTestSetMetric) name one with its prefix, '
                'e.g. save_best="market1501/mAP".')
        updated = False
        single = len(self.key_indicators) == 1
        for key, rule in zip(self.key_indicators, self.rules):
            score = metrics[key]
            score_key = 'best_score' if single else f'best_score_{key}'
            ckpt_key = 'best_ckpt' if single else f'best_ckpt_{key}'
            previous = (
                self.best_ckpt_path
                if single else self.best_ckpt_path_dict[key])
            info = runner.message_hub.runtime_info
            best = (
                info[score_key]
                if score_key in info else self.init_value_map[rule])
            if score is None or not self.is_better_than[key](score, best):
                continue
            best_name = f'best_{key}_{filename}'.replace('/', '_')
            self._check_finite(runner, best_name)

            best_path = self.file_backend.join_path(self.out_dir, best_name)
            snapshot = self._hub_snapshot(runner, (score_key, ckpt_key))
            # The best checkpoint stores its own score and path, so that a
            # run resumed from it knows what to beat and what to replace.
            runner.message_hub.update_info(score_key, score)
            runner.message_hub.update_info(ckpt_key, best_path)
            try:
                self._save(
                    runner,
                    best_name,
                    meta,
                    save_optimizer=False,
                    save_param_scheduler=False,
                    by_epoch=False)
            except BaseException:
                self._hub_restore(runner, (score_key, ckpt_key), snapshot)
                raise
            updated = True
            if single:
                self.best_ckpt_path = best_path
            else:
                self.best_ckpt_path_dict[key] = best_path
            if previous and previous != best_path and is_main_process():
                self._remove(runner, previous)
                runner.logger.info(
                    f'The previous best checkpoint {previous} is removed')
            runner.logger.info(
                f'The best checkpoint with {score:0.4f} {key} at {cur_time} '
                f'{cur_type} is saved to {best_name}.')

        # Re-save the step checkpoint so that its message hub records the new
        # best, as MMEngine's hook does.
        if updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)

    @master_only
    def _publish_model(self, runner, ckpt_path: str) -> None:
        """Write ``ckpt_path`` with only ``published_keys``, atomically.

        Args:
            runner (Runner): The runner.
            ckpt_path (str): The checkpoint to publish.
        """
        from mmengine.runner.checkpoint import (_load_checkpoint,
                                                save_checkpoint)
        checkpoint = _load_checkpoint(ckpt_path, map_location='cpu')
        dropped = [k for k in checkpoint if k not in self.published_keys]
        for key in dropped:
            checkpoint.pop(key)
        if dropped:
            print_log(
                f'Keys {dropped} are not in published_keys and are left out '
                f'of the published copy of {ckpt_path}',
                logger='current')
        digest = hashlib.sha256(pickle.dumps(checkpoint)).hexdigest()[:8]
        published = f'{osp.splitext(ckpt_path)[0]}-{digest}.pth'
        save_checkpoint(checkpoint, published, backend_args=self._write_args)
        print_log(
            f'The checkpoint {ckpt_path} is published to {published}.',
            logger='current')
