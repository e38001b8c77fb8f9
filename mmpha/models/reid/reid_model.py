"""The re-ID model: backbone (+ JPM) + head, with MMEngine's train/val/test
API."""
import copy
from typing import Dict, List, Literal, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.model.weight_init import initialize

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample
from ..backbones.contract import (BackboneFeatures, backbone_channels,
                                  backbone_features)
from ..utils.cross_rank import SyncBatchNorm1d
from ..utils.key_mapping import legacy_keys_pre_hook
from ..utils.release_converters import release_load_pre_hook

SampleList = Optional[Sequence[ReIDDataSample]]


def fill_pred_features(
    feats: torch.Tensor,
    data_samples: Optional[Sequence[Optional[ReIDDataSample]]] = None
) -> List[ReIDDataSample]:
    """Set ``pred_feature`` of each sample to its row of ``feats``.

    Args:
        feats (torch.Tensor): ``(B, D)`` features.
        data_samples (Sequence[ReIDDataSample | None], optional): B samples,
            or None to create them. Defaults to None.

    Returns:
        list[ReIDDataSample]: The samples.
    """
    if data_samples is None:
        data_samples = [None] * feats.shape[0]
    if len(data_samples) != feats.shape[0]:
        raise ValueError(f'{len(data_samples)} data samples for '
                         f'{feats.shape[0]} features')
    filled = []
    for sample, feat in zip(data_samples, feats.detach()):
        sample = ReIDDataSample() if sample is None else sample
        filled.append(sample.set_pred_feature(feat))
    return filled


@MODELS.register_module()
class ReIDModel(BaseModel):
    """A re-identification model: backbone, optional JPM branch, head.

    The stages, each reusable by subclasses such as PHA:

    1. :meth:`extract_backbone`: the backbone's features under the re-ID
       backbone contract (:mod:`mmpha.models.backbones.contract`): the
       global feature and, when it has them, the tokens / a feature map;
       the camera / view ids of the data samples go to a backbone with SIE;
    2. :meth:`branch_features`: the global feature, plus the local ones of
       the JPM module (``jpm``) when configured, computed from the tokens;
    3. ``head.loss`` or ``head.predict_feature`` (:class:`ReIDHead`).

    The model knows nothing else about the backbone, so a TransReID ViT and
    an mmpretrain ResNet (BoT) train through the same code.

    ``forward`` dispatches on ``mode`` like mmpretrain's ``ImageClassifier``:
    ``'tensor'`` returns the test feature, ``'loss'`` a dict of losses,
    ``'predict'`` data samples carrying ``pred_feature``.

    Every parameter with ``requires_grad`` takes part in the loss, so DDP
    runs with ``find_unused_parameters=False``.

    Checkpoints of the released TransReID / PHA code, and of earlier mmpha
    versions (JPM keys under ``head.jpm_*``), are mapped onto this model by
    load pre-hooks whenever they are loaded; both mappings are logged.

    Args:
        backbone (dict): Backbone config meeting the contract, e.g.
            ``TransReIDViT`` or mmpretrain's ``ResNet``.
        head (dict): Head config, e.g. ``ReIDHead``; ``in_channels`` is set
            to the backbone's feature width and ``num_features`` to
            ``1 + jpm.num_parts`` (1 without JPM) when absent.
        jpm (dict, optional): Jigsaw patch module config
            (``dict(type='JPM', ...)``); it needs a token backbone. None
            builds no JPM branch. Defaults to None.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type='ReIDDataPreprocessor')``; a dict without ``type``
            gets that type.
        train_cfg (dict, optional): Training options kept for subclasses.
            Defaults to None.
        flip_test (bool): At test time, average the features of each image
            and of its horizontal flip. Defaults to False.
        cross_rank_batch (bool): Under DDP, train on the global batch as
            one process would: every loss with a ``gather_across_ranks``
            option (triplet, patch-wise contrastive) mines in the features
            and labels gathered from all ranks, and every ``BatchNorm1d``
            (the BNNecks) becomes a :class:`SyncBatchNorm1d`. False leaves
            each rank on its own slice (and sets those options off). No
            effect with one process. Defaults to False; the shipped
            configs set True.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    #: Checkpoint keys this model lacks that a strict load leaves out (and
    #: logs): PHA's training-only head, so that a PHA checkpoint loads into
    #: the TransReID config and infers the same (mmpha.utils.state_dict_load).
    ignorable_checkpoint_prefixes: Tuple[str, ...] = ('pha_head.', )

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 jpm: Optional[dict] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 flip_test: bool = False,
                 cross_rank_batch: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict()
        if isinstance(data_preprocessor, dict):
            data_preprocessor = copy.deepcopy(data_preprocessor)
            data_preprocessor.setdefault('type', 'ReIDDataPreprocessor')
            data_preprocessor = MODELS.build(data_preprocessor)
        elif not isinstance(data_preprocessor, nn.Module):
            raise TypeError('data_preprocessor must be a dict or an '
                            f'nn.Module, got {type(data_preprocessor)}')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(flip_test, bool):
            raise TypeError(f'flip_test must be a bool, got {flip_test!r}')
        if not isinstance(cross_rank_batch, bool):
            raise TypeError('cross_rank_batch must be a bool, got '
                            f'{cross_rank_batch!r}')
        for name, value in (('head', head), ('jpm', jpm)):
            if value is not None and not isinstance(value, dict):
                raise TypeError(f'{name} must be a config dict, got '
                                f'{value!r}')

        self.backbone = MODELS.build(backbone)
        # Registered before the head: initialisation runs in this order, so
        # the random draws are those of the layout where JPM sat in the head
        # before its classifiers, and a seed gives the same weights.
        self.jpm = MODELS.build(jpm) if jpm is not None else None
        if self.jpm is not None:
            self.jpm.copy_from(self.backbone)
        head = copy.deepcopy(head)
        channels = backbone_channels(self.backbone)
        if head.get('in_channels') is None:
            head['in_channels'] = channels
        elif head['in_channels'] != channels:
            raise ValueError(f'head in_channels={head["in_channels"]} differs '
                             f"from the backbone's feature width {channels}")
        num_features = 1 + (self.jpm.num_parts if self.jpm is not None else 0)
        head.setdefault('num_features', num_features)
        self.head = MODELS.build(head)
        if self.head.num_features != num_features:
            raise ValueError(
                f'head num_features={self.head.num_features}, but the model '
                f'has {num_features} features (1 global + JPM parts)')
        self.train_cfg = train_cfg
        self.flip_test = flip_test
        self.cross_rank_batch = cross_rank_batch
        self.apply_cross_rank_batch()
        # Checkpoints of earlier mmpha versions and of the released
        # TransReID / PHA code are mapped onto this model whenever they are
        # loaded (load_from, init_cfg, tools).
        self.register_load_state_dict_pre_hook(legacy_keys_pre_hook)
        self.register_load_state_dict_pre_hook(release_load_pre_hook)

    def apply_cross_rank_batch(self) -> None:
        """Set every submodule's ``gather_across_ranks`` to
        :attr:`cross_rank_batch` and, when it is True, convert the
        ``BatchNorm1d`` layers to :class:`SyncBatchNorm1d`.

        Idempotent; subclasses that build more modules after
        ``ReIDModel.__init__`` call it again.
        """
        for module in self.modules():
            if hasattr(module, 'gather_across_ranks'):
                module.gather_across_ranks = self.cross_rank_batch
        if self.cross_rank_batch:
            SyncBatchNorm1d.convert(self)

    @property
    def feat_dim(self) -> int:
        """int: Width D of the test feature."""
        return self.head.feat_dim

    def init_weights(self) -> None:
        """Initialise every module, then re-copy the (possibly pretrained)
        last block + norm of the backbone into the JPM branch.

        A ``Pretrained`` entry in the model's own ``init_cfg`` is a whole
        model (mmpha or released), JPM branch included: it is loaded last, so
        that the copy does not overwrite its JPM weights.
        """
        cfgs = self.init_cfg if isinstance(self.init_cfg,
                                           list) else [self.init_cfg]
        pretrained = [
            cfg for cfg in cfgs
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'
        ]
        full_cfg = self.init_cfg
        self.init_cfg = [
            cfg for cfg in cfgs if cfg not in pretrained and cfg is not None
        ] or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = full_cfg
        if self.jpm is not None:
            self.jpm.sync_from(self.backbone)
            print_log(
                "Copied the backbone's last block and final norm into the "
                'JPM branch.',
                logger='current')
        if pretrained:
            initialize(self, pretrained)

    # --------------------------------------------------------------- stages
    def side_info(
        self,
        data_samples: SampleList,
        device: torch.device,
        batch: Optional[int] = None
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Camera and view ids that the backbone's SIE needs.

        Args:
            data_samples (Sequence[ReIDDataSample], optional): Samples with
                ``cam_id`` / ``view_id``.
            device (torch.device): Device of the returned tensors.
            batch (int, optional): Expected number of samples. Defaults to
                None.

        Returns:
            tuple[torch.Tensor | None, torch.Tensor | None]: ``(B, )`` camera
            ids and view ids, each None when the backbone does not use it.

        Raises:
            ValueError: If ids are needed but the samples are missing or lack
                the field.
        """
        ids = []
        for field, num in (('cam_id', getattr(self.backbone, 'camera_num', 0)),
                           ('view_id', getattr(self.backbone, 'view_num', 0))):
            if not num:
                ids.append(None)
                continue
            if data_samples is None:
                raise ValueError(
                    f'the backbone uses SIE ({field}: {num} values) but no '
                    'data_samples were given')
            if batch is not None and len(data_samples) != batch:
                raise ValueError(f'{len(data_samples)} data samples for a '
                                 f'batch of {batch} images')
            missing = [i for i, s in enumerate(data_samples) if field not in s]
            if missing:
                raise ValueError(f'data samples {missing} have no {field}, '
                                 'which the backbone SIE needs')
            # Built and range-checked on the host, then copied: checking
            # them on the GPU would synchronise the training step.
            value = torch.tensor([s.get(field) for s in data_samples],
                                 dtype=torch.long)
            if bool(((value < 0) | (value >= num)).any()):
                raise ValueError(f'{field}s must be in [0, {num}), got '
                                 f'{value.unique().tolist()}')
            ids.append(value.to(device, non_blocking=True))
        return ids[0], ids[1]

    def extract_backbone(self,
                         inputs: torch.Tensor,
                         data_samples: SampleList = None) -> BackboneFeatures:
        """The backbone's features, with the camera / view ids for SIE.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Source of the
                camera / view ids. Defaults to None.

        Returns:
            BackboneFeatures: See :mod:`mmpha.models.backbones.contract`.
        """
        cam_ids, view_ids = self.side_info(data_samples, inputs.device,
                                           inputs.shape[0])
        return backbone_features(self.backbone, inputs, cam_ids, view_ids)

    def branch_features(self, feats: BackboneFeatures) -> List[torch.Tensor]:
        """The features the head sees: global, then JPM's local ones.

        Args:
            feats (BackboneFeatures): From :meth:`extract_backbone`.

        Returns:
            list[torch.Tensor]: ``1 + P`` tensors ``(B, C)`` (P = JPM parts,
            0 without JPM).

        Raises:
            ValueError: If JPM is configured but the backbone gives no
                tokens.
        """
        if self.jpm is None:
            return [feats.global_feat]
        if feats.tokens is None:
            raise ValueError(f'JPM needs the tokens of a token backbone, but '
                             f'{type(self.backbone).__name__} returned none')
        return [feats.global_feat, *self.jpm(feats.tokens)]

    def _test_feature(self, inputs: torch.Tensor,
                      data_samples: SampleList) -> torch.Tensor:
        feats = self.extract_backbone(inputs, data_samples)
        return self.head.predict_feature(self.branch_features(feats))

    def extract_feat(self,
                     inputs: torch.Tensor,
                     data_samples: SampleList = None) -> torch.Tensor:
        """The test feature of each image.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Source of the
                camera / view ids. Defaults to None.

        Returns:
            torch.Tensor: ``(B, D)`` features, D = :attr:`feat_dim`;
            with ``flip_test`` the mean over the image and its mirror.
        """
        feats = self._test_feature(inputs, data_samples)
        if self.flip_test:
            flipped = self._test_feature(inputs.flip(-1), data_samples)
            feats = (feats + flipped) / 2
        return feats

    # ---------------------------------------------------------------- modes
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[ReIDDataSample]
             ) -> Dict[str, torch.Tensor]:
        """Training losses.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label`` (and ``cam_id`` / ``view_id`` for SIE).

        Returns:
            dict[str, torch.Tensor]: The head's losses (``loss_cls``,
            ``loss_triplet``) and ``accuracy``.
        """
        feats = self.extract_backbone(inputs, data_samples)
        return self.head.loss(self.branch_features(feats), data_samples)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: SampleList = None) -> List[ReIDDataSample]:
        """Test features written into the data samples.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Samples to
                fill; new ones are created when None. Defaults to None.

        Returns:
            list[ReIDDataSample]: Samples with ``pred_feature`` ``(D, )``.
        """
        return fill_pred_features(
            self.extract_feat(inputs, data_samples), data_samples)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: SampleList = None,
                mode: Literal['tensor', 'loss', 'predict'] = 'tensor'):
        """Dispatch to :meth:`extract_feat`, :meth:`loss` or :meth:`predict`.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Labels and
                side information. Defaults to None.
            mode (str): ``'tensor'``, ``'loss'`` or ``'predict'``.
                Defaults to ``'tensor'``.

        Returns:
            torch.Tensor | dict | list: ``(B, D)`` features, the loss dict,
            or the filled data samples.
        """
        if mode == 'tensor':
            return self.extract_feat(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f"mode must be 'tensor', 'loss' or 'predict', got "
                           f'{mode!r}')
