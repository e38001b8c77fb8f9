"""Tell the model which training epoch is running."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpha.registry import HOOKS


@HOOKS.register_module()
class SetEpochHook(Hook):
    """Call ``model.set_epoch(epoch)`` before every training epoch.

    ``epoch`` is counted from 1 (the epoch about to run): MMEngine's
    ``runner.epoch`` is the number of finished epochs, restored from the
    checkpoint on resume, so a resumed run sets the same value the
    uninterrupted one would have. Models without ``set_epoch`` are left
    alone, so the hook can sit in every config's ``custom_hooks``; PHA's
    loss weight ``w(e)`` reads the epoch this way, not from a global.
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        """Set the epoch on the (unwrapped) model.

        Args:
            runner (Runner): The runner.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        set_epoch = getattr(model, 'set_epoch', None)
        if callable(set_epoch):
            set_epoch(runner.epoch + 1)
