"""PHA: Patch-wise High-frequency Augmentation (Zhang et al., CVPR 2023)."""
import copy
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample
from mmpha.utils import check_positive_int
from ..backbones.contract import BackboneFeatures
from ..utils.patch_selection import gather_tokens, patch_grid_size
from .reid_model import ReIDModel


@MODELS.register_module()
class PHA(ReIDModel):
    """TransReID trained with patch-wise high-frequency augmentation.

    Training (:meth:`loss`), per batch and on the device:

    1. ``x01 = to_unit_range(x)``: the augmented batch in ``[0, 1]``;
    2. the neck (:class:`PHANeck`) derives, from that same batch, ``x_hf``
       (low frequencies of the HF region coarsened, details intact) and the
       indices of the kept HF patches, shared by ``x`` and ``x_hf``;
    3. ``x`` and ``x_hf`` are embedded identically (patches + position +
       SIE, class token included); three sequences go through the shared
       first L-1 blocks: (a) the full sequence of ``x``, (b) the class
       token + kept patches of ``x`` and (c) the same of ``x_hf``; (b) and
       (c) share one pass, concatenated along the batch;
    4. (a) gives the TransReID losses exactly as :class:`ReIDModel`;
    5. (b) and (c) go through the global last block + norm; their class
       tokens feed :class:`PHAHead` (ID + triplet per branch, weighted by
       ``w(epoch)``);
    6. the patch-wise contrastive loss compares, at the output of the shared
       blocks, (b) with (c) token by token (class token included) -- key
       ``loss_pc_bc`` -- and (a) at the kept positions with (b)'s patch
       tokens -- key ``loss_pc_ab``. The shared blocks are where the paper
       places the three sequences side by side and where high-frequency
       detail is diluted by attention; the last block belongs to the
       global branch only.

    Total: TransReID losses + ``w(e)`` x HF losses + contrastive losses,
    each logged under its own ``loss_*`` key.

    Inference (``predict`` / ``extract_feat`` / ``'tensor'``) is inherited
    unchanged: the TransReID path only. The neck and the contrastive loss
    have no state, and the HF head lives under ``pha_head.``, so a PHA
    checkpoint loads into a TransReID model of the same backbone with only
    ``pha_head.*`` keys unexpected, and predicts the same features.

    Args:
        backbone (dict): Backbone config: PHA is ViT-only
            (``TransReIDViT``); it must expose ``embed``, ``forward_blocks``,
            ``forward_last``, ``patch_size`` and ``stride``, or a
            ``ValueError`` names what is missing.
        head (dict): Head config (``ReIDHead``).
        jpm (dict, optional): JPM config, see :class:`ReIDModel`.
            Defaults to None.
        neck (dict): Frequency analysis config. Defaults to
            ``dict(type='PHANeck')``; ``patch_size`` and ``stride`` are taken
            from the backbone.
        pha_head (dict): HF-branch head config. ``num_classes``,
            ``in_channels``, ``loss_cls`` and ``loss_triplet`` default to the
            TransReID head's; ``branches`` is set by the switches below.
            Defaults to ``dict(type='PHAHead')``.
        loss_pc (dict): Patch-wise contrastive loss config. Defaults to
            ``dict(type='PatchContrastiveLoss')``.
        use_hf_x (bool): HF branch on ``x`` (b): ID + triplet losses.
            Defaults to True.
        use_hf_xhf (bool): HF branch on ``x_hf`` (c): ID + triplet losses.
            Defaults to True.
        use_contrastive (bool): The two patch-wise contrastive terms.
            Defaults to True.
        data_preprocessor (dict | nn.Module, optional): Must provide
            ``to_unit_range`` / ``from_unit_range`` (``ReIDDataPreprocessor``).
            Defaults to None.
        train_cfg (dict, optional): Kept for compatibility. Defaults to None.
        flip_test (bool): See :class:`ReIDModel`. Defaults to False.
        cross_rank_batch (bool): See :class:`ReIDModel`; also covers the HF
            head's triplet losses and BNNecks and the contrastive loss.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 jpm: Optional[dict] = None,
                 neck: dict = dict(type='PHANeck'),
                 pha_head: dict = dict(type='PHAHead'),
                 loss_pc: dict = dict(type='PatchContrastiveLoss'),
                 use_hf_x: bool = True,
                 use_hf_xhf: bool = True,
                 use_contrastive: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 flip_test: bool = False,
                 cross_rank_batch: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            backbone=backbone,
            head=head,
            jpm=jpm,
            data_preprocessor=data_preprocessor,
            train_cfg=train_cfg,
            flip_test=flip_test,
            cross_rank_batch=cross_rank_batch,
            init_cfg=init_cfg)
        for name, value in (('use_hf_x', use_hf_x), ('use_hf_xhf', use_hf_xhf),
                            ('use_contrastive', use_contrastive)):
            if not isinstance(value, bool):
                raise TypeError(f'{name} must be a bool, got {value!r}')
        for name in ('to_unit_range', 'from_unit_range'):
            if not callable(getattr(self.data_preprocessor, name, None)):
                raise TypeError(
                    f'PHA needs a data preprocessor with {name}() (e.g. '
                    'ReIDDataPreprocessor), got '
                    f'{type(self.data_preprocessor).__name__}')
        missing = [
            name for name in ('patch_size', 'stride', 'embed',
                              'forward_blocks', 'forward_last')
            if not hasattr(self.backbone, name)
        ]
        if missing:
            raise ValueError(
                'PHA works on the patch tokens of a ViT (TransReIDViT); the '
                f'backbone {type(self.backbone).__name__} has no '
                f'{", ".join(missing)}')
        self.use_hf_x = use_hf_x
        self.use_hf_xhf = use_hf_xhf
        self._epoch = 1
        self.use_contrastive = use_contrastive

        self.neck = MODELS.build(neck)
        self.neck.set_patch_embed(self.backbone.patch_size,
                                  self.backbone.stride)

        branches = [
            name for name, used in (('x', use_hf_x), ('xhf', use_hf_xhf))
            if used
        ]
        # A branch without losses would leave parameters without gradients
        # (and DDP would need find_unused_parameters), so the HF head only
        # holds the BNNecks of the enabled branches and none at all when both
        # are off.
        if branches:
            pha_head = copy.deepcopy(pha_head)
            pha_head['branches'] = branches
            pha_head.setdefault('num_classes', self.head.num_classes)
            pha_head.setdefault('in_channels', self.backbone.embed_dims)
            for key in ('loss_cls', 'loss_triplet'):
                if key not in pha_head and key in head:
                    pha_head[key] = copy.deepcopy(head[key])
            self.pha_head = MODELS.build(pha_head)
        else:
            self.pha_head = None
        self.loss_pc = MODELS.build(loss_pc) if use_contrastive else None
        self.apply_cross_rank_batch()

    @property
    def needs_x_branch(self) -> bool:
        """bool: Whether the subset (b) of ``x`` is computed."""
        return self.use_hf_x or self.use_contrastive

    @property
    def needs_xhf_branch(self) -> bool:
        """bool: Whether ``x_hf`` and its subset (c) are computed."""
        return self.use_hf_xhf or self.use_contrastive

    def set_epoch(self, epoch: int) -> None:
        """Set the 1-based training epoch that ``w(e)`` uses.

        Called by :class:`~mmpha.engine.hooks.SetEpochHook` before every
        training epoch (also after a resume).

        Args:
            epoch (int): The epoch in progress, counted from 1.
        """
        self._epoch = check_positive_int(epoch, 'epoch')

    def current_epoch(self) -> int:
        """The 1-based epoch for ``w(e)``: the last :meth:`set_epoch`, 1
        before any.

        Returns:
            int: The epoch.
        """
        return self._epoch

    def loss(self, inputs: Tensor,
             data_samples: Sequence[ReIDDataSample]) -> Dict[str, Tensor]:
        """TransReID losses plus PHA's HF-branch and contrastive losses.

        Args:
            inputs (Tensor): ``(B, 3, H, W)`` normalised, augmented images.
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label`` (and ``cam_id`` / ``view_id`` for SIE).

        Returns:
            dict[str, Tensor]: The TransReID keys (``loss_cls``,
            ``loss_triplet``, ``accuracy``); ``loss_hf_x_cls``,
            ``loss_hf_x_triplet``, ``loss_hf_xhf_cls``,
            ``loss_hf_xhf_triplet`` (weighted), ``hf_x_accuracy``,
            ``hf_xhf_accuracy`` and ``hf_weight`` for the enabled HF
            branches; ``loss_pc_bc`` and ``loss_pc_ab`` with the contrastive
            loss.
        """
        batch = inputs.shape[0]
        labels = self.head.labels_of(data_samples, inputs.device)
        cam_ids, view_ids = self.side_info(data_samples, inputs.device, batch)
        tokens = self.backbone.embed(inputs, cam_ids, view_ids)
        full = self.backbone.forward_blocks(tokens)
        feats = BackboneFeatures(
            global_feat=self.backbone.forward_last(full)[:, 0], tokens=full)
        losses = self.head.loss(self.branch_features(feats), data_samples)
        if not (self.needs_x_branch or self.needs_xhf_branch):
            return losses

        x_hf01, keep_idx = self.neck(
            self.data_preprocessor.to_unit_range(inputs))
        # A static check (no device sync): the neck's grid must be the
        # backbone's, or the kept indices would point at other patches.
        grid = patch_grid_size(inputs.shape[-2:], self.neck.patch_size,
                               self.neck.stride)
        if grid[0] * grid[1] != tokens.shape[1] - 1:
            raise RuntimeError(
                f'the neck sees a {grid[0]}x{grid[1]} patch grid but the '
                f'backbone has {tokens.shape[1] - 1} patch tokens: their '
                'patch_size / stride differ')

        subsets = {}
        if self.needs_x_branch:
            subsets['x'] = gather_tokens(tokens, keep_idx)
        if self.needs_xhf_branch:
            x_hf = self.data_preprocessor.from_unit_range(x_hf01)
            tokens_hf = self.backbone.embed(x_hf, cam_ids, view_ids)
            subsets['xhf'] = gather_tokens(tokens_hf, keep_idx)
        names = list(subsets)
        # One pass for both subsets: same length, same shared blocks.
        hidden = self.backbone.forward_blocks(
            torch.cat([subsets[n] for n in names])).split(batch)
        hidden = dict(zip(names, hidden))

        if self.pha_head is not None:
            branches = self.pha_head.branches
            cls_feats = self.backbone.forward_last(
                torch.cat([hidden[b] for b in branches]))[:, 0].split(batch)
            losses.update(
                self.pha_head.loss(
                    dict(zip(branches, cls_feats)), labels,
                    self.current_epoch()))

        if self.loss_pc is not None:
            losses['loss_pc_bc'] = self.loss_pc(hidden['x'], hidden['xhf'],
                                                labels)
            full_at_kept = gather_tokens(full, keep_idx)[:, 1:]
            losses['loss_pc_ab'] = self.loss_pc(full_at_kept,
                                                hidden['x'][:, 1:], labels)
        return losses
