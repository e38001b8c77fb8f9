"""The re-ID model: backbone + head, with MMEngine's train/val/test API."""
import copy
from typing import Dict, List, Literal, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.model.weight_init import initialize

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample
from ..heads.transreid_head import fill_pred_features
from ..utils.release_converters import release_load_pre_hook

SampleList = Optional[Sequence[ReIDDataSample]]


@MODELS.register_module()
class ReIDModel(BaseModel):
    """A TransReID-style person re-identification model.

    The stages, each reusable by subclasses such as PHA:

    1. :meth:`embed_tokens`: ``backbone.embed`` with the camera / view ids
       of the data samples (SIE);
    2. :meth:`forward_tokens`: + the backbone's first L-1 blocks;
    3. the global branch (``backbone.forward_last``) and the head's JPM
       branch (``head.forward_jpm``), see :meth:`branch_features`;
    4. ``head.loss`` or ``head.predict_feature``.

    ``forward`` dispatches on ``mode`` like mmpretrain's ``ImageClassifier``:
    ``'tensor'`` returns the test feature, ``'loss'`` a dict of losses,
    ``'predict'`` data samples carrying ``pred_feature``.

    Every parameter with ``requires_grad`` takes part in the loss, so DDP
    runs with ``find_unused_parameters=False``.

    Args:
        backbone (dict): Backbone config, e.g. ``TransReIDViT``. It must
            provide ``embed``, ``forward_blocks``, ``forward_last``,
            ``blocks``, ``ln1``, ``embed_dims``, ``camera_num`` and
            ``view_num``.
        head (dict): Head config, e.g. ``TransReIDHead``; ``in_channels``
            is set to the backbone's ``embed_dims`` when absent.
        data_preprocessor (dict | nn.Module, optional): Defaults to
            ``dict(type='ReIDDataPreprocessor')``; a dict without ``type``
            gets that type.
        train_cfg (dict, optional): Training options kept for subclasses.
            Defaults to None.
        flip_test (bool): At test time, average the features of each image
            and of its horizontal flip. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    #: Checkpoint keys this model lacks that a strict load leaves out (and
    #: logs): PHA's training-only head, so that a PHA checkpoint loads into
    #: the TransReID config and infers the same (mmpha.utils.state_dict_load).
    ignorable_checkpoint_prefixes: Tuple[str, ...] = ('pha_head.', )

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 train_cfg: Optional[dict] = None,
                 flip_test: bool = False,
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

        self.backbone = MODELS.build(backbone)
        head = copy.deepcopy(head)
        embed_dims = self.backbone.embed_dims
        if head.get('in_channels') is None:
            head['in_channels'] = embed_dims
        elif head['in_channels'] != embed_dims:
            raise ValueError(f'head in_channels={head["in_channels"]} differs '
                             f"from the backbone's embed_dims={embed_dims}")
        self.head = MODELS.build(head)
        self.head.init_jpm(self.backbone.blocks[-1], self.backbone.ln1)
        self.train_cfg = train_cfg
        self.flip_test = flip_test
        # A checkpoint of the released TransReID / PHA code is mapped onto
        # this model whenever it is loaded (load_from, init_cfg, tools).
        self.register_load_state_dict_pre_hook(release_load_pre_hook)

    @property
    def feat_dim(self) -> int:
        """int: Width D of the test feature."""
        return self.head.feat_dim

    def init_weights(self) -> None:
        """Initialise every module, then re-copy the (possibly pretrained)
        last block + norm of the backbone into the head's JPM branch.

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
        self.head.sync_jpm(self.backbone.blocks[-1], self.backbone.ln1)
        if self.head.jpm:
            print_log(
                "Copied the backbone's last block and final norm into the "
                'JPM branch of the head.',
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
        for field, num in (('cam_id', self.backbone.camera_num),
                           ('view_id', self.backbone.view_num)):
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
            ids.append(
                torch.tensor([s.get(field) for s in data_samples],
                             dtype=torch.long,
                             device=device))
        return ids[0], ids[1]

    def embed_tokens(self,
                     inputs: torch.Tensor,
                     data_samples: SampleList = None) -> torch.Tensor:
        """Backbone embedding (patches + position + SIE).

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Source of the
                camera / view ids. Defaults to None.

        Returns:
            torch.Tensor: ``(B, 1 + N, C)`` tokens.
        """
        cam_ids, view_ids = self.side_info(data_samples, inputs.device,
                                           inputs.shape[0])
        return self.backbone.embed(inputs, cam_ids, view_ids)

    def forward_tokens(self,
                       inputs: torch.Tensor,
                       data_samples: SampleList = None) -> torch.Tensor:
        """The sequence after the first L-1 (shared) blocks.

        Args:
            inputs (torch.Tensor): ``(B, 3, H, W)`` normalised images.
            data_samples (Sequence[ReIDDataSample], optional): Source of the
                camera / view ids. Defaults to None.

        Returns:
            torch.Tensor: ``(B, 1 + N, C)``.
        """
        return self.backbone.forward_blocks(
            self.embed_tokens(inputs, data_samples))

    def branch_features(self, tokens: torch.Tensor
                        ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Global and JPM features from the shared blocks' output.

        Args:
            tokens (torch.Tensor): ``(B, 1 + N, C)`` from
                :meth:`forward_tokens`.

        Returns:
            tuple[torch.Tensor, list[torch.Tensor]]: ``(B, C)`` global
            feature and the list of ``(B, C)`` local features (empty without
            JPM).
        """
        global_feat = self.backbone.forward_last(tokens)[:, 0]
        return global_feat, self.head.forward_jpm(tokens)

    def _test_feature(self, inputs: torch.Tensor,
                      data_samples: SampleList) -> torch.Tensor:
        tokens = self.forward_tokens(inputs, data_samples)
        return self.head.predict_feature(*self.branch_features(tokens))

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
            dict[str, torch.Tensor]: ``loss_cls``, ``loss_triplet`` and
            ``accuracy``.
        """
        tokens = self.forward_tokens(inputs, data_samples)
        global_feat, local_feats = self.branch_features(tokens)
        return self.head.loss(global_feat, local_feats, data_samples)

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
