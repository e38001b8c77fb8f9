"""MMEngine's Runner, with resuming and loading that refuse to guess.

MMEngine's Runner, asked to resume from a work dir without a checkpoint,
trains from scratch (and overwrites ``epoch_1.pth``); resumed with another
schedule or batch size, it continues a run that neither config describes;
loading a checkpoint of another model it logs the missing keys and tests
random weights. :class:`ReIDRunner` makes each of these an error, with an
explicit opt-in for the cases where the user means it.
"""
import copy
import inspect
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader, Runner

from mmpha.registry import RUNNERS
from mmpha.utils.checkpoint import (check_checkpoint, check_config_checkpoints,
                                    register_checkpoint_loader,
                                    setup_checkpoint_loading)
from mmpha.utils.checkpoint_files import read_last_checkpoint
from mmpha.utils.config_check import check_train_length, resolve_scheduler_ends
from mmpha.utils.state_dict_load import load_state_dict_checked, state_dict_of
from .dataset_sizes import fill_auto_sizes

#: Config keys whose difference from the checkpoint's config means the
#: resumed run cannot continue the interrupted one exactly. Dotted paths;
#: a path that is absent on both sides is equal.
RESUME_CHECKED_KEYS: Tuple[str, ...] = (
    'model',
    'data_preprocessor',
    'train_cfg.type',
    'train_cfg.by_epoch',
    'train_cfg.max_epochs',
    'train_cfg.max_iters',
    'param_scheduler',
    'optim_wrapper',
    'train_dataloader.batch_size',
    'train_dataloader.sampler',
    'train_dataloader.batch_sampler',
)

# Scheduler state that is progress (kept from the checkpoint) rather than
# shape (taken from the config) when resuming anyway.
_SCHEDULER_PROGRESS = ('last_step', '_global_step', '_last_value',
                       '_get_value_called_within_step')

_MISSING = object()


class ResumeMismatchError(ValueError):
    """The config differs from the checkpoint's in what shapes the run."""


def _plain(value: Any) -> Any:
    """A config value as plain dicts and lists, for comparison."""
    if isinstance(value, (dict, ConfigDict)):
        return {k: _plain(v) for k, v in value.items() if k != 'init_cfg'}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _get_path(cfg: dict, path: str) -> Any:
    node: Any = cfg
    for part in path.split('.'):
        if not isinstance(node, (dict, ConfigDict)) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _show(value: Any) -> str:
    return 'unset' if value is _MISSING else repr(value)


def config_differences(saved: dict,
                       current: dict,
                       keys: Sequence[str] = RESUME_CHECKED_KEYS) -> List[str]:
    """The keys of ``keys`` whose values differ between two configs.

    Both configs' ``end=None`` scheduler ends are first filled from their
    own ``train_cfg``; ``init_cfg`` entries (where pretrained weights come
    from) are ignored.

    Args:
        saved (dict): The config stored in the checkpoint.
        current (dict): The config of this run.
        keys (Sequence[str]): Dotted keys to compare. Defaults to
            :data:`RESUME_CHECKED_KEYS`.

    Returns:
        list[str]: One ``'key: A in the checkpoint, B now'`` line per
        difference; dicts and lists of one length are compared item by
        item (``param_scheduler[1].end``).
    """
    sides = []
    for cfg in (saved, current):
        cfg = _plain(cfg)
        if cfg.get('param_scheduler') is not None:
            resolve_scheduler_ends(cfg['param_scheduler'],
                                   cfg.get('train_cfg'))
        sides.append(cfg)
    lines: List[str] = []

    def compare(path: str, old: Any, new: Any) -> None:
        if old == new:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for sub in sorted(set(old) | set(new)):
                compare(f'{path}.{sub}', old.get(sub, _MISSING),
                        new.get(sub, _MISSING))
            return
        if isinstance(old, list) and isinstance(new, list) and \
                len(old) == len(new):
            for i, (old_item, new_item) in enumerate(zip(old, new)):
                compare(f'{path}[{i}]', old_item, new_item)
            return
        lines.append(f'{path}: {_show(old)} in the checkpoint, '
                     f'{_show(new)} now')

    for key in keys:
        compare(key, _get_path(sides[0], key), _get_path(sides[1], key))
    return lines


def shape_differences(saved_state: Dict[str, Any],
                      model_state: Dict[str, Any]) -> List[str]:
    """Parameters whose presence or shape differs between two state dicts.

    Args:
        saved_state (dict): The checkpoint's state dict.
        model_state (dict): The model's state dict.

    Returns:
        list[str]: One line per differing key.
    """
    lines = []
    for key in sorted(set(saved_state) | set(model_state)):
        if key.endswith('num_batches_tracked'):
            continue
        old = getattr(saved_state.get(key), 'shape', _MISSING)
        new = getattr(model_state.get(key), 'shape', _MISSING)
        if old != new:
            old_text = 'absent' if old is _MISSING else tuple(old)
            new_text = 'absent' if new is _MISSING else tuple(new)
            lines.append(f'model weight {key}: {old_text} in the '
                         f'checkpoint, {new_text} now')
    return lines


@RUNNERS.register_module()
class ReIDRunner(Runner):
    """A Runner whose resume and checkpoint loading are exact or refused.

    On top of MMEngine's :class:`~mmengine.runner.Runner`:

    - ``resume=True`` without ``load_from`` resumes from the work dir's
      ``last_checkpoint`` (resolved relative to the work dir, so a moved
      work dir resumes from its own files). When there is none it raises
      :class:`FileNotFoundError` naming the work dir, unless
      ``resume_or_scratch=True``, which logs that the run starts from
      scratch. A ``load_from`` to resume from that does not exist is an
      error too.
    - Before resuming, the checkpoint's config (``meta['cfg']``) and weight
      shapes are compared with this run's: a different schedule
      (``train_cfg`` length, ``param_scheduler``), optimiser, batch size,
      sampler, model config or weight shape raises
      :class:`ResumeMismatchError` listing every differing key with both
      values. ``resume_anyway=True`` continues with a warning instead; the
      schedulers then keep their progress from the checkpoint and take
      their shape (``end``, ``T_max``, ...) from the config.
    - Checkpoints (``load_from``, resume) load strictly: a missing,
      unexpected or differently shaped key raises
      :class:`~mmpha.utils.state_dict_load.CheckpointMismatchError` with the
      counts and the first keys. ``strict_load=False`` skips them with a
      warning; a checkpoint of which no key matches is refused always.
    - ``num_classes='auto'``, ``camera_num='auto'`` and ``view_num='auto'``
      in the model config are filled from the train set before the model is
      built (see :mod:`mmpha.engine.dataset_sizes`).
    - ``param_scheduler`` entries with ``end=None`` end with the training
      (see :func:`~mmpha.utils.config_check.resolve_scheduler_ends`), and a
      non-positive ``train_cfg.max_epochs`` / ``max_iters`` is refused.

    The three switches are read from the config (top-level keys of the same
    names) when not passed.

    Args:
        *args: Positional arguments of :class:`~mmengine.runner.Runner`.
        resume_or_scratch (bool, optional): Start from scratch, with a log
            line, when ``resume=True`` finds no checkpoint in the work dir.
            Defaults to None (the config's value, else False).
        resume_anyway (bool, optional): Resume even when the config differs
            from the checkpoint's. Defaults to None (config, else False).
        strict_load (bool, optional): Refuse checkpoints whose keys do not
            match the model. Defaults to None (config, else True).
        **kwargs: Keyword arguments of :class:`~mmengine.runner.Runner`.
    """

    def __init__(self,
                 *args,
                 resume_or_scratch: Optional[bool] = None,
                 resume_anyway: Optional[bool] = None,
                 strict_load: Optional[bool] = None,
                 **kwargs) -> None:
        # A Runner built without the tools still loads through the safe
        # loader.
        register_checkpoint_loader()
        bound = inspect.signature(Runner.__init__).bind(self, *args, **kwargs)
        arguments = bound.arguments
        train_cfg = arguments.get('train_cfg')
        if isinstance(train_cfg, dict):
            check_train_length(dict(train_cfg=train_cfg))
            scheduler = arguments.get('param_scheduler')
            if isinstance(scheduler, (dict, list)):
                resolve_scheduler_ends(scheduler, train_cfg)
            cfg = arguments.get('cfg')
            if isinstance(cfg, (Config, dict)) and \
                    cfg.get('param_scheduler') is not None:
                resolve_scheduler_ends(cfg['param_scheduler'],
                                       cfg.get('train_cfg', train_cfg))
        self._check_checkpoints_first(arguments, resume_or_scratch)
        self._fill_auto_sizes(arguments)
        super().__init__(*bound.args[1:], **bound.kwargs)

        def option(value: Optional[bool], key: str, default: bool) -> bool:
            if value is None:
                value = self.cfg.get(key, default)
            if not isinstance(value, bool):
                raise TypeError(f'{key} must be a bool, got {value!r}')
            return value

        self._resume_or_scratch = option(resume_or_scratch,
                                         'resume_or_scratch', False)
        self._resume_anyway = option(resume_anyway, 'resume_anyway', False)
        self._strict_load = option(strict_load, 'strict_load', True)
        self._resuming = False
        self._resume_differences: List[str] = []

    @staticmethod
    def build_dataloader(dataloader: Any,
                         seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> Any:
        """MMEngine's loader build, with the base configs' prefetch kept
        valid for ``num_workers=0``.

        The ViT-B dataset bases set ``prefetch_factor``, which torch's
        ``DataLoader`` refuses without worker processes. A config (or a
        ``--cfg-options``) that sets ``num_workers=0`` then gets the loader
        without prefetching, logged, instead of torch's error.

        Args:
            dataloader (dict | DataLoader): The loader or its config.
            seed (int, optional): See ``Runner.build_dataloader``.
            diff_rank_seed (bool): See ``Runner.build_dataloader``.

        Returns:
            DataLoader: The built loader.
        """
        if (isinstance(dataloader, dict)
                and not dataloader.get('num_workers', 0)
                and dataloader.get('prefetch_factor') is not None):
            print_log(
                f'num_workers=0: prefetch_factor='
                f'{dataloader["prefetch_factor"]} is dropped (it needs '
                'worker processes).',
                logger='current')
            dataloader = dict(dataloader, prefetch_factor=None)
        return Runner.build_dataloader(dataloader, seed, diff_rank_seed)

    @staticmethod
    def _fill_auto_sizes(arguments: Dict[str, Any]) -> None:
        """Fill ``num_classes='auto'`` and the like from the train set.

        See :mod:`mmpha.engine.dataset_sizes`. The numbers go into the model
        config and the runner's ``cfg`` (so the dumped config and the
        checkpoints hold them); the built train set replaces the loader's
        dataset config so the data is read once.

        Args:
            arguments (dict): The bound arguments of ``Runner.__init__``.
        """
        model = arguments.get('model')
        if not isinstance(model, dict):
            return
        cfg = arguments.get('cfg')
        other = (cfg.get('model'), ) if isinstance(cfg, (Config, dict)) else ()
        loader = arguments.get('train_dataloader')
        filled, dataset = fill_auto_sizes(model, loader, other,
                                          arguments.get('default_scope'))
        if filled and isinstance(loader, dict):
            # A new dict: the config's own loader entry keeps the config.
            arguments['train_dataloader'] = dict(loader, dataset=dataset)

    @staticmethod
    def _check_checkpoints_first(arguments: Dict[str, Any],
                                 resume_or_scratch: Optional[bool]) -> None:
        """Refuse unsafe or missing checkpoints before anything is written.

        MMEngine's Runner creates the work dir, its log and visualiser files
        in ``__init__``; checking here first means a refused checkpoint, or
        a resume with nothing to resume from, changes nothing on disk.

        Args:
            arguments (dict): The bound arguments of ``Runner.__init__``.
            resume_or_scratch (bool, optional): As in ``__init__``.
        """
        cfg = arguments.get('cfg')
        cfg = cfg if isinstance(cfg, (Config, dict)) else {}
        setup_checkpoint_loading(cfg)
        load_from = arguments.get('load_from')
        check_config_checkpoints(
            dict(load_from=load_from, model=arguments.get('model')))
        work_dir = arguments.get('work_dir')
        if not arguments.get('resume') or load_from is not None or \
                not isinstance(work_dir, str):
            return
        latest = read_last_checkpoint(work_dir)
        if latest is not None:
            check_checkpoint(latest)
            return
        if resume_or_scratch is None:
            resume_or_scratch = cfg.get('resume_or_scratch', False)
        if resume_or_scratch is not True:
            raise FileNotFoundError(
                f'cannot resume: the work dir "{work_dir}" has no '
                'last_checkpoint to resume from. Pass the checkpoint to '
                'resume from (--resume PATH), check --work-dir, or use '
                '--resume-or-scratch (resume_or_scratch=True) to start from '
                'scratch when there is nothing to resume')

    def _resume_source(self) -> Optional[str]:
        """The checkpoint to resume from, or None to start from scratch.

        Raises:
            FileNotFoundError: If ``load_from`` does not exist, or the work
                dir holds no checkpoint to resume from and
                ``resume_or_scratch`` is False.
        """
        if self._load_from is not None:
            path = str(self._load_from)
            if '://' not in path and not osp.isfile(path):
                raise FileNotFoundError(
                    f'cannot resume: the checkpoint "{path}" does not exist')
            return path
        path = read_last_checkpoint(self.work_dir)
        if path is not None:
            self.logger.info(f'Resuming from the latest checkpoint {path} '
                             f'of the work dir {self.work_dir}')
            return path
        if self._resume_or_scratch:
            self.logger.warning(
                f'resume: the work dir {self.work_dir} holds no '
                'last_checkpoint; starting from scratch (resume_or_scratch)')
            return None
        raise FileNotFoundError(
            f'cannot resume: the work dir "{self.work_dir}" has no '
            'last_checkpoint to resume from. Pass the checkpoint to resume '
            'from (--resume PATH), check --work-dir, or use '
            '--resume-or-scratch (resume_or_scratch=True) to start from '
            'scratch when there is nothing to resume')

    def load_or_resume(self) -> None:
        """Resume or load the checkpoint the config asks for, or refuse."""
        if self._has_loaded:
            return
        if self._resume:
            source = self._resume_source()
            if source is not None:
                self.resume(source)
            self._has_loaded = True
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
            self._has_loaded = True

    def resume(self,
               filename: str,
               resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: Any = 'default') -> None:
        """Resume from a checkpoint after checking that the run can continue.

        Args:
            filename (str): The checkpoint.
            resume_optimizer (bool): Restore the optimiser state. Defaults
                to True.
            resume_param_scheduler (bool): Restore the scheduler state.
                Defaults to True.
            map_location (str | callable): As in MMEngine. Defaults to
                ``'default'`` (the current device).

        Raises:
            ResumeMismatchError: See the class docstring.
        """
        fresh = None
        if resume_param_scheduler and self.param_schedulers is not None:
            fresh = self._scheduler_states()
        self._resuming = True
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler,
                           map_location)
        finally:
            self._resuming = False
        if self._resume_differences and fresh is not None:
            self._reshape_schedulers(fresh)

    def _scheduler_states(self) -> Any:
        schedulers = self.param_schedulers
        if isinstance(schedulers, dict):
            return {
                name: [s.state_dict() for s in group]
                for name, group in schedulers.items()
            }
        if isinstance(schedulers, list) and all(
                hasattr(s, 'state_dict') for s in schedulers):
            return [s.state_dict() for s in schedulers]
        return None

    def _reshape_schedulers(self, fresh: Any) -> None:
        """Give resumed schedulers the config's shape, keep their progress."""
        groups = self.param_schedulers
        if isinstance(groups, dict):
            pairs = [(s, f) for name in groups
                     for s, f in zip(groups[name], fresh[name])]
        else:
            pairs = list(zip(groups, fresh))
        for scheduler, fresh_state in pairs:
            state = dict(fresh_state)
            resumed = scheduler.state_dict()
            for key in _SCHEDULER_PROGRESS:
                if key in resumed:
                    state[key] = resumed[key]
            scheduler.load_state_dict(copy.deepcopy(state))

    def _check_resume(self, checkpoint: dict, filename: str) -> None:
        """Compare the checkpoint's config and weights with this run's."""
        meta = checkpoint.get('meta') or {}
        lines: List[str] = []
        text = meta.get('cfg')
        if text is None:
            self.logger.warning(
                f'the checkpoint {filename} stores no config (meta["cfg"]); '
                'only its weight shapes are checked against this run')
        else:
            saved = Config.fromstring(text, file_format='.py')
            lines += config_differences(saved.to_dict(), self.cfg.to_dict())
        model = self.model.module if is_model_wrapper(self.model) else \
            self.model
        lines += shape_differences(
            state_dict_of(checkpoint), model.state_dict())
        self._resume_differences = lines
        if not lines:
            return
        listing = '\n  '.join(lines)
        if self._resume_anyway:
            self.logger.warning(
                f'resuming from {filename} with a config that differs from '
                f'the checkpoint\'s (resume_anyway=True); the run continues '
                f'with the new values and is not the one either config '
                f'describes:\n  {listing}')
            return
        raise ResumeMismatchError(
            f'cannot resume exactly from {filename}: the config differs from '
            f'the checkpoint\'s in {len(lines)} key(s):\n  {listing}\n'
            'Resume with the config the checkpoint was trained with, start a '
            'new run from its weights (load_from without resume), or pass '
            '--resume-anyway (resume_anyway=True) to continue with the new '
            'values')

    def load_checkpoint(
        self,
        filename: str,
        map_location: Any = 'cpu',
        strict: bool = False,
        revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
    ) -> dict:
        """Load a checkpoint into the model, refusing one that does not fit.

        Args:
            filename (str): The checkpoint (path or URI).
            map_location (str | callable): Where to load the tensors.
                Defaults to ``'cpu'``.
            strict (bool): Refuse mismatching keys even when the runner's
                ``strict_load`` is False. Defaults to False (the runner's
                ``strict_load`` decides).
            revise_keys (list): ``(pattern, replacement)`` applied to the
                keys. Defaults to stripping ``module.``.

        Returns:
            dict: The loaded checkpoint.

        Raises:
            CheckpointMismatchError: See the class docstring.
            ResumeMismatchError: When resuming; see the class docstring.
        """
        checkpoint = CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
        if self._resuming:
            self._check_resume(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else \
            self.model
        # Resuming anyway a model of another shape loads what fits.
        strict_now = (strict or self._strict_load
                      ) and not (self._resuming and self._resume_anyway)
        load_state_dict_checked(
            model,
            state_dict_of(checkpoint, revise_keys),
            strict=strict_now,
            source=f'the checkpoint "{filename}"')
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
