"""Keep the patch embedding of a pretrained ViT fixed for the first epochs
(Chen et al., MoCo v3, ICCV 2021, Sec. 5: a frozen patch projection keeps
the early fine-tuning stable)."""
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmpha.registry import HOOKS


@HOOKS.register_module()
class FreezePatchEmbedHook(Hook):
    """Freeze ``model.backbone.patch_embed`` during epochs ``[0, epochs)``.

    Before every training epoch the hook sets ``requires_grad`` of the
    patch-embedding parameters from ``runner.epoch`` (the number of finished
    epochs, restored on resume): False while ``runner.epoch < epochs``, True
    afterwards. A frozen parameter gets no gradient, so the optimiser
    neither moves it nor applies weight decay or momentum to it. Deciding
    from the epoch each time makes resuming correct: a run resumed at an
    epoch ``>= epochs`` trains the patch embedding, one resumed earlier
    keeps it frozen until ``epochs``.

    With DDP, parameters that change ``requires_grad`` during training need
    ``model_wrapper_cfg=dict(type='MMDistributedDataParallel',
    find_unused_parameters=True)``.

    Args:
        epochs (int): N, the number of epochs with a frozen patch
            embedding; 0 disables the hook. Defaults to 1.
        module (str): Dotted path of the frozen module in the model.
            Defaults to ``'backbone.patch_embed'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 epochs: int = 1,
                 module: str = 'backbone.patch_embed') -> None:
        if isinstance(epochs,
                      bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f'epochs must be an int >= 0, got {epochs!r}')
        self.epochs = epochs
        self.module = module

    def _target(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        try:
            return model.get_submodule(self.module)
        except AttributeError as err:
            raise ValueError(
                f'FreezePatchEmbedHook: the model has no module '
                f'"{self.module}" (set module= to the patch embedding)'
            ) from err

    def before_train_epoch(self, runner) -> None:
        """Freeze or unfreeze the patch embedding for this epoch.

        Args:
            runner (Runner): The runner.
        """
        frozen = runner.epoch < self.epochs
        params = list(self._target(runner).parameters())
        if any(p.requires_grad == frozen for p in params):
            for param in params:
                param.requires_grad_(not frozen)
            print_log(
                f'{self.module} {"frozen" if frozen else "trainable"} from '
                f'epoch {runner.epoch + 1} (frozen for the first '
                f'{self.epochs} epochs).',
                logger='current')
