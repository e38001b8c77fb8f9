"""TransReID's heads: the jigsaw patch module, BNNecks, classifiers and the
ID + triplet losses (He et al., ICCV 2021, Sec. 3.3)."""
import copy
import math
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample

ClsType = Literal['linear', 'cosface', 'arcface', 'circle']


def jpm_rearrange(patches: torch.Tensor, shift: int,
                  groups: int) -> torch.Tensor:
    """Shift and patch-shuffle operations of the jigsaw patch module.

    The first ``shift`` patch tokens move to the end of the sequence; the
    sequence is then cut into ``groups`` equal chunks that are interleaved
    (token ``i`` of every chunk, then token ``i + 1`` ...), so that each of
    the later contiguous parts gathers patches from all over the image.
    When N is not a multiple of ``groups`` the last tokens of the shifted
    sequence are repeated to fill the chunks.

    Args:
        patches (torch.Tensor): ``(B, N, C)`` patch tokens (no class token).
        shift (int): Number of tokens moved to the end, ``0 <= shift``.
        groups (int): Number of shuffle chunks, ``>= 1``.

    Returns:
        torch.Tensor: ``(B, N', C)`` rearranged tokens, ``N'`` the smallest
        multiple of ``groups`` that is ``>= N``.

    Note:
        TransReID's released ``shuffle_unit`` moves ``shift - 1`` tokens (its
        slice starts at ``begin - 1 + shift`` of a sequence that still holds
        the class token); this function moves ``shift``, as the paper states.
    """
    num = patches.shape[1]
    # An explicit ``dims`` keeps the roll exportable to ONNX.
    index = torch.roll(
        torch.arange(num, device=patches.device), -(shift % num), dims=0)
    pad = (-num) % groups
    if pad:
        index = torch.cat([index, index[-pad:]])
    index = index.view(groups, -1).t().reshape(-1)
    return patches[:, index]


@MODELS.register_module()
class MarginClassifier(nn.Module):
    """Cosine classifier with an additive margin on the target class.

    Logits are ``scale * cos(theta_j)`` between the L2-normalised feature and
    class weights; with labels, the target (and, for Circle, every) logit
    is changed by the margin:

    - ``'cosface'``: ``cos(theta_y) - m`` (Wang et al., CVPR 2018);
    - ``'arcface'``: ``cos(theta_y + m)``, with the usual linear fall-back
      when ``theta_y + m > pi`` (Deng et al., CVPR 2019);
    - ``'circle'``: ``a_p (cos - (1 - m))`` for the target and
      ``a_n (cos - m)`` for the others, ``a_p = [1 + m - cos]_+`` and
      ``a_n = [cos + m]_+`` detached (Sun et al., CVPR 2020).

    Args:
        in_channels (int): Feature width C.
        num_classes (int): Number of identities.
        margin_type (str): ``'cosface'``, ``'arcface'`` or ``'circle'``.
        scale (float): Logit scale s. Defaults to 30.0.
        margin (float): Margin m. Defaults to 0.35.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 margin_type: Literal['cosface', 'arcface', 'circle'],
                 scale: float = 30.0,
                 margin: float = 0.35) -> None:
        super().__init__()
        if margin_type not in ('cosface', 'arcface', 'circle'):
            raise ValueError(f"margin_type must be 'cosface', 'arcface' or "
                             f"'circle', got {margin_type!r}")
        if scale <= 0 or not 0 <= margin < 1:
            raise ValueError(f'scale must be > 0 and margin in [0, 1), got '
                             f'scale={scale}, margin={margin}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.margin_type = margin_type
        self.scale = float(scale)
        self.margin = float(margin)
        self.weight = nn.Parameter(torch.empty(num_classes, in_channels))
        nn.init.normal_(self.weight, std=0.001)

    def forward(self,
                x: torch.Tensor,
                labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Compute the logits.

        Args:
            x (torch.Tensor): ``(B, C)`` features.
            labels (torch.Tensor, optional): ``(B, )`` identities; the margin
                is applied only when given. Defaults to None.

        Returns:
            torch.Tensor: ``(B, num_classes)`` logits.
        """
        cos = F.linear(
            F.normalize(x.float()), F.normalize(self.weight.float()))
        if labels is None:
            return self.scale * cos
        target = F.one_hot(labels, self.num_classes).bool()
        m = self.margin
        if self.margin_type == 'cosface':
            logits = torch.where(target, cos - m, cos)
        elif self.margin_type == 'arcface':
            sin = (1 - cos.pow(2)).clamp(min=1e-7).sqrt()
            cos_plus_m = cos * math.cos(m) - sin * math.sin(m)
            # cos(theta + m) is not monotonic once theta + m > pi.
            cos_plus_m = torch.where(cos > math.cos(math.pi - m), cos_plus_m,
                                     cos - math.sin(math.pi - m) * m)
            logits = torch.where(target, cos_plus_m, cos)
        else:
            alpha_p = F.relu(1 + m - cos.detach())
            alpha_n = F.relu(cos.detach() + m)
            logits = torch.where(target, alpha_p * (cos - (1 - m)),
                                 alpha_n * (cos - m))
        return self.scale * logits

    def extra_repr(self) -> str:
        """Options shown by ``print(module)``."""
        return (f'{self.in_channels}, {self.num_classes}, '
                f'margin_type={self.margin_type}, scale={self.scale}, '
                f'margin={self.margin}')


@MODELS.register_module()
class TransReIDHead(BaseModule):
    """Global + jigsaw-patch (JPM) heads with BNNecks, classifiers and losses.

    The global feature comes from the backbone's last block + norm
    (``backbone.forward_last``). With ``jpm=True`` the head also owns one
    copy of that block + norm, made by :meth:`init_jpm`: the patch tokens
    after the shared blocks are shifted and shuffled (:func:`jpm_rearrange`),
    cut into ``num_parts`` contiguous parts of ``N // num_parts`` tokens (a
    remainder is dropped, as in TransReID), and each part, with the class
    token prepended, goes through the copy; its class token is a local
    feature.

    Each feature has its own BNNeck (``BatchNorm1d`` whose bias is frozen at
    0) and bias-free classifier. Training losses, per feature: ID
    (``loss_cls`` on the classifier's logits of the BN feature) and triplet
    (``loss_triplet`` on the feature before BN). Global and local terms are
    combined as ``global_weight * global + local_weight * mean(local)``; a
    head without JPM uses its single term as it is. The test feature is
    ``concat(global, local_1 / P, ..., local_P / P)`` (P = ``num_parts``),
    before or after the BNNecks (``neck_feat``).

    Args:
        num_classes (int): Number of training identities.
        in_channels (int, optional): Feature width C. :class:`ReIDModel`
            fills it from the backbone when None. Defaults to None.
        jpm (bool): Add the jigsaw patch branch. Defaults to True.
        num_parts (int): Number of local parts P. Defaults to 4.
        shift (int): Tokens moved by the shift operation. Defaults to 5.
            The value travels with the weights: it is saved as the buffer
            ``jpm_shift``, and a checkpoint that holds one sets the shift
            the weights were trained with (logged when it differs from the
            config), so a converted release checkpoint (which moves
            ``SHIFT_NUM - 1`` tokens) runs as it was trained in any config.
        shuffle_groups (int): Chunks of the patch shuffle. Defaults to 2.
        rearrange (bool): Shift and shuffle before cutting the parts; False
            cuts the raw raster sequence. Defaults to True.
        neck_feat (str): Test feature ``'before'`` or ``'after'`` the
            BNNecks. Defaults to ``'before'``.
        global_weight (float): Weight of the global term. Defaults to 0.5.
        local_weight (float): Weight of the mean local term. Defaults to 0.5.
        loss_cls (dict): ID loss, e.g. mmpretrain's ``CrossEntropyLoss`` or
            ``LabelSmoothLoss``. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        loss_triplet (dict, optional): Metric loss on the features before
            BN; None disables it. Defaults to
            ``dict(type='TripletLoss', margin=None, loss_weight=1.0)``.
        cls_type (str): ``'linear'`` (bias-free ``nn.Linear``) or a
            :class:`MarginClassifier` (``'cosface'``, ``'arcface'``,
            ``'circle'``). Defaults to ``'linear'``.
        cls_scale (float): Logit scale of a margin classifier.
            Defaults to 30.0.
        cls_margin (float): Margin of a margin classifier. Defaults to 0.35.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Optional[int] = None,
                 jpm: bool = True,
                 num_parts: int = 4,
                 shift: int = 5,
                 shuffle_groups: int = 2,
                 rearrange: bool = True,
                 neck_feat: Literal['before', 'after'] = 'before',
                 global_weight: float = 0.5,
                 local_weight: float = 0.5,
                 loss_cls: dict = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(
                     type='TripletLoss', margin=None, loss_weight=1.0),
                 cls_type: ClsType = 'linear',
                 cls_scale: float = 30.0,
                 cls_margin: float = 0.35,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels is None:
            raise ValueError(
                'in_channels is None: give the feature width, or build the '
                'head inside ReIDModel, which sets it to the backbone\'s '
                'embed_dims')
        checks = dict(
            num_classes=(num_classes, 1),
            in_channels=(in_channels, 1),
            num_parts=(num_parts, 1),
            shift=(shift, 0),
            shuffle_groups=(shuffle_groups, 1))
        for name, (value, low) in checks.items():
            if (isinstance(value, bool) or not isinstance(value, int)
                    or value < low):
                raise ValueError(f'{name} must be an int >= {low}, got '
                                 f'{value!r}')
        if neck_feat not in ('before', 'after'):
            raise ValueError(f"neck_feat must be 'before' or 'after', got "
                             f'{neck_feat!r}')
        if cls_type not in ('linear', 'cosface', 'arcface', 'circle'):
            raise ValueError(f"cls_type must be 'linear', 'cosface', "
                             f"'arcface' or 'circle', got {cls_type!r}")
        if not isinstance(loss_cls, dict):
            raise TypeError('loss_cls must be a loss config dict (the '
                            'classifiers are trained by it), got '
                            f'{loss_cls!r}')
        if global_weight < 0 or local_weight < 0:
            raise ValueError(f'global_weight and local_weight must be >= 0, '
                             f'got {global_weight}, {local_weight}')

        self.num_classes = num_classes
        self.in_channels = in_channels
        self.jpm = jpm
        self.num_parts = num_parts
        self.shift = shift
        self.shuffle_groups = shuffle_groups
        self.rearrange = rearrange
        self.neck_feat = neck_feat
        self.global_weight = float(global_weight)
        self.local_weight = float(local_weight)
        self.cls_type = cls_type
        self.cls_scale = cls_scale
        self.cls_margin = cls_margin

        self.loss_cls = MODELS.build(loss_cls)
        self.loss_triplet = (
            MODELS.build(loss_triplet) if loss_triplet is not None else None)

        self.bnnecks = nn.ModuleList(
            self.build_bnneck(in_channels) for _ in range(self.num_features))
        self.classifiers = nn.ModuleList(self.build_classifier()
                                         for _ in range(self.num_features))
        # Filled by init_jpm(); None until then.
        self.jpm_block: Optional[nn.Module] = None
        self.jpm_norm: Optional[nn.Module] = None
        if jpm:
            self.register_buffer('jpm_shift', torch.tensor(shift))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Take the JPM shift that a checkpoint's weights were trained with.

        A checkpoint saved before the shift was stored gets the config's.
        """
        key = prefix + 'jpm_shift'
        if self.jpm and key not in state_dict:
            state_dict[key] = self.jpm_shift.clone()
        elif self.jpm:
            shift = int(state_dict[key])
            if shift != self.shift:
                print_log(
                    f'{prefix}jpm_shift: the checkpoint was trained with a '
                    f'JPM shift of {shift}, the config says {self.shift}; '
                    f'using {shift}',
                    logger='current')
                self.shift = shift
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --------------------------------------------------------------- pieces
    @property
    def num_features(self) -> int:
        """int: Features per image: 1 global (+ ``num_parts`` local)."""
        return 1 + self.num_parts if self.jpm else 1

    @property
    def feat_dim(self) -> int:
        """int: Width of the test feature, ``C * num_features``."""
        return self.in_channels * self.num_features

    @staticmethod
    def build_bnneck(channels: int) -> nn.BatchNorm1d:
        """A BNNeck: ``BatchNorm1d`` with weight 1 and a frozen zero bias.

        Args:
            channels (int): Feature width C.

        Returns:
            nn.BatchNorm1d: The layer; its bias has ``requires_grad=False``.
        """
        bnneck = nn.BatchNorm1d(channels)
        nn.init.ones_(bnneck.weight)
        nn.init.zeros_(bnneck.bias)
        # A learned shift would be undone by the ID loss's softmax anyway;
        # freezing it keeps the BN feature centred (Luo et al., 2019).
        bnneck.bias.requires_grad_(False)
        return bnneck

    def build_classifier(self) -> nn.Module:
        """A classifier of this head's type, ``in_channels -> num_classes``.

        Returns:
            nn.Module: A bias-free ``nn.Linear`` (weights N(0, 0.001^2)) or a
            :class:`MarginClassifier`.
        """
        if self.cls_type == 'linear':
            classifier = nn.Linear(
                self.in_channels, self.num_classes, bias=False)
            nn.init.normal_(classifier.weight, std=0.001)
            return classifier
        return MarginClassifier(
            self.in_channels,
            self.num_classes,
            margin_type=self.cls_type,
            scale=self.cls_scale,
            margin=self.cls_margin)

    @staticmethod
    def apply_classifier(classifier: nn.Module,
                         bn_feat: torch.Tensor,
                         labels: Optional[torch.Tensor] = None
                         ) -> torch.Tensor:
        """Run a classifier built by :meth:`build_classifier`.

        Args:
            classifier (nn.Module): The classifier.
            bn_feat (torch.Tensor): ``(B, C)`` BN feature.
            labels (torch.Tensor, optional): ``(B, )`` identities, used by
                margin classifiers in training. Defaults to None.

        Returns:
            torch.Tensor: ``(B, num_classes)`` logits.
        """
        if isinstance(classifier, MarginClassifier):
            return classifier(bn_feat, labels)
        return classifier(bn_feat)

    def init_weights(self) -> None:
        """Initialise BNNecks (1, 0) and classifiers (N(0, 0.001^2))."""
        super().init_weights()
        for bnneck in self.bnnecks:
            nn.init.ones_(bnneck.weight)
            nn.init.zeros_(bnneck.bias)
        for classifier in self.classifiers:
            nn.init.normal_(classifier.weight, std=0.001)

    # ------------------------------------------------------------------ JPM
    def init_jpm(self, template_block: nn.Module,
                 template_norm: nn.Module) -> None:
        """Create the JPM branch as deep copies of the backbone's last block
        and final norm. Does nothing when ``jpm=False``.

        Args:
            template_block (nn.Module): The backbone's last block.
            template_norm (nn.Module): The backbone's final LayerNorm.
        """
        if not self.jpm:
            return
        self.jpm_block = copy.deepcopy(template_block)
        self.jpm_norm = copy.deepcopy(template_norm)

    def sync_jpm(self, template_block: nn.Module,
                 template_norm: nn.Module) -> None:
        """Copy the template's current weights into the JPM branch, in place.

        Called after the backbone loaded pretrained weights; in place, since
        the optimizer may already hold the JPM parameters.

        Args:
            template_block (nn.Module): The backbone's last block.
            template_norm (nn.Module): The backbone's final LayerNorm.

        Raises:
            RuntimeError: If :meth:`init_jpm` has not been called.
        """
        if not self.jpm:
            return
        if self.jpm_block is None:
            raise RuntimeError('sync_jpm() before init_jpm(): the JPM branch '
                               'does not exist yet')
        self.jpm_block.load_state_dict(template_block.state_dict())
        self.jpm_norm.load_state_dict(template_norm.state_dict())

    def forward_jpm(self, tokens: torch.Tensor) -> List[torch.Tensor]:
        """Local features of the jigsaw patch module.

        All parts of all images go through the JPM block in one batch of
        ``B * P`` sequences.

        Args:
            tokens (torch.Tensor): ``(B, 1 + N, C)`` output of the shared
                blocks, class token first.

        Returns:
            list[torch.Tensor]: ``num_parts`` tensors ``(B, C)``; empty when
            ``jpm=False``.

        Raises:
            RuntimeError: If :meth:`init_jpm` has not been called.
            ValueError: If there are fewer patch tokens than parts.
        """
        if not self.jpm:
            return []
        if self.jpm_block is None:
            raise RuntimeError('the JPM branch does not exist: call '
                               'init_jpm(backbone.blocks[-1], backbone.ln1) '
                               '(ReIDModel does it)')
        batch, length, channels = tokens.shape
        num_patches = length - 1
        part_len = num_patches // self.num_parts
        if part_len == 0:
            raise ValueError(f'{num_patches} patch tokens cannot be cut into '
                             f'num_parts={self.num_parts} parts')
        cls_token, patches = tokens[:, :1], tokens[:, 1:]
        if self.rearrange:
            patches = jpm_rearrange(patches, self.shift, self.shuffle_groups)
        parts = patches[:, :part_len *
                        self.num_parts].reshape(batch * self.num_parts,
                                                part_len, channels)
        cls_token = cls_token.repeat_interleave(self.num_parts, dim=0)
        out = self.jpm_norm(self.jpm_block(torch.cat([cls_token, parts], 1)))
        return list(out[:, 0].reshape(batch, self.num_parts, -1).unbind(1))

    # -------------------------------------------------------------- forward
    def apply_bnnecks(self,
                      feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """BNNeck ``i`` on feature ``i``.

        Args:
            feats (Sequence[torch.Tensor]): ``num_features`` tensors
                ``(B, C)``: global first, then local.

        Returns:
            list[torch.Tensor]: The BN features, same shapes.
        """
        self._check_num_features(feats)
        return [bnneck(feat) for bnneck, feat in zip(self.bnnecks, feats)]

    def _check_num_features(self, feats: Sequence[torch.Tensor]) -> None:
        if len(feats) != self.num_features:
            raise ValueError(
                f'expected {self.num_features} features (1 global + '
                f'{self.num_features - 1} local), got {len(feats)}')

    def forward(
        self,
        global_feat: torch.Tensor,
        local_feats: Sequence[torch.Tensor] = (),
        labels: Optional[torch.Tensor] = None
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """BNNecks and classifiers of every feature.

        Args:
            global_feat (torch.Tensor): ``(B, C)`` global feature.
            local_feats (Sequence[torch.Tensor]): ``num_parts`` ``(B, C)``
                local features (empty without JPM). Defaults to ``()``.
            labels (torch.Tensor, optional): ``(B, )`` identities, needed by
                margin classifiers in training. Defaults to None.

        Returns:
            tuple[list[torch.Tensor], list[torch.Tensor]]: BN features
            ``(B, C)`` and logits ``(B, num_classes)``, global first.
        """
        bn_feats = self.apply_bnnecks([global_feat, *local_feats])
        cls_scores = [
            self.apply_classifier(classifier, feat, labels)
            for classifier, feat in zip(self.classifiers, bn_feats)
        ]
        return bn_feats, cls_scores

    # ----------------------------------------------------------------- loss
    @staticmethod
    def get_labels(data_samples: Sequence[ReIDDataSample],
                   device: torch.device,
                   num_classes: Optional[int] = None) -> torch.Tensor:
        """Identities of a batch.

        Args:
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label``.
            device (torch.device): Device of the result.
            num_classes (int, optional): When given, labels are checked to
                lie in ``[0, num_classes)`` (on the host, before the copy to
                ``device``). Defaults to None.

        Returns:
            torch.Tensor: ``(B, )`` int64 labels.

        Raises:
            ValueError: Without samples, or with a label out of range; the
                message names ``model.head.num_classes``.
        """
        if not data_samples:
            raise ValueError('training needs data_samples with gt_label')
        labels = torch.cat([sample.gt_label for sample in data_samples])
        if num_classes is not None and labels.numel() and (int(
                labels.max()) >= num_classes or int(labels.min()) < 0):
            bad = int(labels.max()) if int(labels.max()) >= num_classes \
                else int(labels.min())
            raise ValueError(
                f'training label {bad} is outside [0, {num_classes}): set '
                'model.head.num_classes to the number of training '
                'identities of the dataset (its metainfo num_classes)')
        return labels.to(device=device, dtype=torch.long)

    def combine(self, values: Sequence[torch.Tensor]) -> torch.Tensor:
        """``global_weight * values[0] + local_weight * mean(values[1:])``.

        Args:
            values (Sequence[torch.Tensor]): Per-feature scalars, global
                first. A single value is returned as it is.

        Returns:
            torch.Tensor: The combined scalar.
        """
        if len(values) == 1:
            return values[0]
        return (self.global_weight * values[0] +
                self.local_weight * torch.stack(list(values[1:])).mean())

    def feature_losses(self, feat: torch.Tensor, cls_score: torch.Tensor,
                       labels: torch.Tensor
                       ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """ID and triplet loss of one feature.

        Args:
            feat (torch.Tensor): ``(B, C)`` feature before BN (triplet).
            cls_score (torch.Tensor): ``(B, num_classes)`` logits (ID).
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: ID loss and triplet
            loss (None without ``loss_triplet``).
        """
        loss_cls = self.loss_cls(cls_score, labels)
        loss_triplet = (
            self.loss_triplet(feat, labels)
            if self.loss_triplet is not None else None)
        return loss_cls, loss_triplet

    @staticmethod
    def accuracy(cls_score: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
        """Top-1 accuracy in percent.

        Args:
            cls_score (torch.Tensor): ``(B, num_classes)`` logits.
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            torch.Tensor: Scalar in [0, 100], detached.
        """
        with torch.no_grad():
            return (cls_score.argmax(dim=1) == labels).float().mean() * 100

    def _get_loss(self, feats: Sequence[torch.Tensor],
                  cls_scores: Sequence[torch.Tensor],
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Combine the per-feature losses.

        Args:
            feats (Sequence[torch.Tensor]): Features before BN, global
                first, each ``(B, C)``.
            cls_scores (Sequence[torch.Tensor]): Matching logits.
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, ``loss_triplet`` (when
            configured) and ``accuracy`` (top-1 % of the global classifier).
        """
        terms = [
            self.feature_losses(feat, score, labels)
            for feat, score in zip(feats, cls_scores)
        ]
        losses = dict(loss_cls=self.combine([term[0] for term in terms]))
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.combine([term[1] for term in terms])
        losses['accuracy'] = self.accuracy(cls_scores[0], labels)
        return losses

    def loss(self, global_feat: torch.Tensor,
             local_feats: Sequence[torch.Tensor],
             data_samples: Sequence[ReIDDataSample]
             ) -> Dict[str, torch.Tensor]:
        """Training losses.

        Args:
            global_feat (torch.Tensor): ``(B, C)`` global feature.
            local_feats (Sequence[torch.Tensor]): Local features from
                :meth:`forward_jpm` (empty without JPM).
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label``.

        Returns:
            dict[str, torch.Tensor]: See :meth:`_get_loss`.
        """
        labels = self.get_labels(data_samples, global_feat.device,
                                 self.num_classes)
        _, cls_scores = self(global_feat, local_feats, labels)
        return self._get_loss([global_feat, *local_feats], cls_scores, labels)

    # -------------------------------------------------------------- predict
    def predict_feature(
        self,
        global_feat: torch.Tensor,
        local_feats: Sequence[torch.Tensor] = ()
    ) -> torch.Tensor:
        """The test feature.

        Args:
            global_feat (torch.Tensor): ``(B, C)`` global feature.
            local_feats (Sequence[torch.Tensor]): Local features (empty
                without JPM). Defaults to ``()``.

        Returns:
            torch.Tensor: ``(B, feat_dim)``, ``concat(global, local_i / P)``
            before or after BN (``neck_feat``).
        """
        feats = [global_feat, *local_feats]
        if self.neck_feat == 'after':
            feats = self.apply_bnnecks(feats)
        else:
            self._check_num_features(feats)
        if len(feats) == 1:
            return feats[0]
        return torch.cat(
            [feats[0]] + [feat / self.num_parts for feat in feats[1:]], dim=1)

    def predict(
        self,
        global_feat: torch.Tensor,
        local_feats: Sequence[torch.Tensor] = (),
        data_samples: Optional[Sequence[Optional[ReIDDataSample]]] = None
    ) -> List[ReIDDataSample]:
        """Write the test feature into data samples.

        Args:
            global_feat (torch.Tensor): ``(B, C)`` global feature.
            local_feats (Sequence[torch.Tensor]): Local features.
                Defaults to ``()``.
            data_samples (Sequence[ReIDDataSample], optional): Samples to
                fill; new ones are made when None. Defaults to None.

        Returns:
            list[ReIDDataSample]: Samples with ``pred_feature`` ``(D, )``.
        """
        return fill_pred_features(
            self.predict_feature(global_feat, local_feats), data_samples)


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
