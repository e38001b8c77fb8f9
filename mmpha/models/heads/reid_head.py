"""The re-ID head: BNNecks, classifiers, ID + metric losses and the test
feature (Luo et al., "Bag of Tricks", CVPRW 2019; He et al., ICCV 2021)."""
from typing import Dict, List, Literal, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmpha.registry import MODELS
from mmpha.structures import ReIDDataSample
from mmpha.utils import check_positive_int
from .margin_classifier import MarginClassifier

ClsType = Literal['linear', 'cosface', 'arcface', 'circle']
CLS_TYPES: Tuple[str, ...] = ('linear', 'cosface', 'arcface', 'circle')


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


def gt_labels(data_samples: Sequence[ReIDDataSample],
              device: torch.device,
              num_classes: Optional[int] = None) -> torch.Tensor:
    """Identities of a batch.

    Args:
        data_samples (Sequence[ReIDDataSample]): Samples with ``gt_label``.
        device (torch.device): Device of the result.
        num_classes (int, optional): When given, labels are checked to lie in
            ``[0, num_classes)`` (on the host, before the copy to
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
            'model.head.num_classes to the number of training identities of '
            'the dataset (its metainfo num_classes)')
    return labels.to(device=device, dtype=torch.long)


def top1_accuracy(cls_score: torch.Tensor,
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


@MODELS.register_module()
class ReIDHead(BaseModule):
    """BNNecks, classifiers, ID + metric losses and the test feature of one
    or several features of an image.

    Feature ``i`` (``i`` = 0 the global one, then e.g. JPM's local ones) has
    its own BNNeck (:func:`build_bnneck`) and, unless
    ``shared_classifier``, its own classifier: a bias-free ``nn.Linear``
    (weights N(0, 0.001^2)) or a :class:`MarginClassifier`. Training
    losses, per feature: ID (``loss_cls`` on the classifier's logits of the
    BN feature) and metric (``loss_triplet`` on the feature before BN).
    With several features the terms are combined as
    ``global_weight * global + local_weight * mean(local)``; a single
    feature's term is used as it is. The test feature is
    ``concat(f_0, f_1 / P, ..., f_P / P)`` (P = number of local features),
    before or after the BNNecks (``neck_feat``).

    Args:
        num_classes (int): Number of training identities.
        in_channels (int, optional): Feature width C. :class:`ReIDModel`
            fills it from the backbone when None. Defaults to None.
        num_features (int | Sequence[str]): How many features, or their
            names (the keys of ``bnnecks`` / ``classifiers``; an int n names
            them ``'0'`` ... ``'n-1'``). :class:`ReIDModel` sets it to
            ``1 + jpm.num_parts`` with JPM. Defaults to 1.
        shared_classifier (bool): One classifier (``classifier``) for every
            feature instead of one each (``classifiers``). Defaults to False.
        neck_feat (str): Test feature ``'before'`` or ``'after'`` the
            BNNecks. Defaults to ``'before'``.
        global_weight (float): Weight of the global term. Defaults to 0.5.
        local_weight (float): Weight of the mean local term. Defaults to 0.5.
        loss_cls (dict): ID loss, e.g. mmpretrain's ``CrossEntropyLoss``
            (``label_smooth_val`` for label smoothing). Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        loss_triplet (dict, optional): Metric loss on the features before
            BN; None disables it. Defaults to
            ``dict(type='TripletLoss', margin=None, loss_weight=1.0)``.
        loss_center (dict, optional): An extra metric loss on the global
            feature before BN, e.g. ``dict(type='CenterLoss',
            loss_weight=0.0005)`` (BoT's center loss); ``num_classes`` and
            ``feat_dim`` are filled from the head. Its term is
            ``loss_center``. Defaults to None.
        cls_type (str): ``'linear'`` or a margin classifier (``'cosface'``,
            ``'arcface'``, ``'circle'``). Defaults to ``'linear'``.
        cls_scale (float): Logit scale of a margin classifier.
            Defaults to 30.0.
        cls_margin (float): Margin of a margin classifier. Defaults to 0.35.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Optional[int] = None,
                 num_features: Union[int, Sequence[str]] = 1,
                 shared_classifier: bool = False,
                 neck_feat: Literal['before', 'after'] = 'before',
                 global_weight: float = 0.5,
                 local_weight: float = 0.5,
                 loss_cls: dict = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(
                     type='TripletLoss', margin=None, loss_weight=1.0),
                 loss_center: Optional[dict] = None,
                 cls_type: ClsType = 'linear',
                 cls_scale: float = 30.0,
                 cls_margin: float = 0.35,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels is None:
            raise ValueError(
                'in_channels is None: give the feature width, or build the '
                'head inside ReIDModel, which sets it to the backbone\'s '
                'feature width')
        check_positive_int(num_classes, 'num_classes')
        check_positive_int(in_channels, 'in_channels')
        if isinstance(num_features, str):
            raise TypeError('num_features must be an int or a sequence of '
                            f'names, got the string {num_features!r}')
        if isinstance(num_features, Sequence):
            names = tuple(num_features)
            if not names or len(set(names)) != len(names) or not all(
                    isinstance(n, str) for n in names):
                raise ValueError('num_features names must be non-empty, '
                                 f'unique strings, got {num_features!r}')
        else:
            names = tuple(
                str(i) for i in range(
                    check_positive_int(num_features, 'num_features')))
        if neck_feat not in ('before', 'after'):
            raise ValueError(f"neck_feat must be 'before' or 'after', got "
                             f'{neck_feat!r}')
        if cls_type not in CLS_TYPES:
            raise ValueError(f'cls_type must be one of {CLS_TYPES}, got '
                             f'{cls_type!r}')
        if not isinstance(loss_cls, dict):
            raise TypeError('loss_cls must be a loss config dict (the '
                            'classifiers are trained by it), got '
                            f'{loss_cls!r}')
        if global_weight < 0 or local_weight < 0:
            raise ValueError(f'global_weight and local_weight must be >= 0, '
                             f'got {global_weight}, {local_weight}')

        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feature_names = names
        self.shared_classifier = shared_classifier
        self.neck_feat = neck_feat
        self.global_weight = float(global_weight)
        self.local_weight = float(local_weight)
        self.cls_type = cls_type
        self.cls_scale = cls_scale
        self.cls_margin = cls_margin

        self.loss_cls = MODELS.build(loss_cls)
        self.loss_triplet = (
            MODELS.build(loss_triplet) if loss_triplet is not None else None)
        self.loss_center = None
        if loss_center is not None:
            loss_center = dict(loss_center)
            loss_center.setdefault('num_classes', num_classes)
            loss_center.setdefault('feat_dim', in_channels)
            self.loss_center = MODELS.build(loss_center)
        self.bnnecks = nn.ModuleDict(
            {name: build_bnneck(in_channels)
             for name in names})
        if shared_classifier:
            self.classifier = self.build_classifier()
        else:
            self.classifiers = nn.ModuleDict(
                {name: self.build_classifier()
                 for name in names})

    # --------------------------------------------------------------- pieces
    @property
    def num_features(self) -> int:
        """int: Features per image, global first."""
        return len(self.feature_names)

    @property
    def feat_dim(self) -> int:
        """int: Width of the test feature, ``C * num_features``."""
        return self.in_channels * self.num_features

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

    def classifier_of(self, name: str) -> nn.Module:
        """The classifier of feature ``name``.

        Args:
            name (str): A name of :attr:`feature_names`.

        Returns:
            nn.Module: The shared classifier or that feature's own.
        """
        if self.shared_classifier:
            return self.classifier
        return self.classifiers[name]

    def init_weights(self) -> None:
        """Initialise BNNecks (1, 0) and classifiers (N(0, 0.001^2))."""
        super().init_weights()
        for bnneck in self.bnnecks.values():
            nn.init.ones_(bnneck.weight)
            nn.init.zeros_(bnneck.bias)
        classifiers = ([self.classifier] if self.shared_classifier else list(
            self.classifiers.values()))
        for classifier in classifiers:
            nn.init.normal_(classifier.weight, std=0.001)

    def labels_of(self, data_samples: Sequence[ReIDDataSample],
                  device: torch.device) -> torch.Tensor:
        """``(B, )`` identities, checked against ``num_classes``.

        Args:
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label``.
            device (torch.device): Device of the result.

        Returns:
            torch.Tensor: See :func:`gt_labels`.
        """
        return gt_labels(data_samples, device, self.num_classes)

    def _check_num_features(self, feats: Sequence[torch.Tensor]) -> None:
        if len(feats) != self.num_features:
            raise ValueError(
                f'expected {self.num_features} features (1 global + '
                f'{self.num_features - 1} local), got {len(feats)}')

    # -------------------------------------------------------------- forward
    def forward_one(
        self,
        name: str,
        feat: torch.Tensor,
        labels: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """BNNeck and classifier of one feature.

        Args:
            name (str): The feature's name.
            feat (torch.Tensor): ``(B, C)`` feature before BN.
            labels (torch.Tensor, optional): ``(B, )`` identities, used by
                margin classifiers in training. Defaults to None.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: BN feature ``(B, C)`` and
            logits ``(B, num_classes)``.
        """
        bn_feat = self.bnnecks[name](feat)
        classifier = self.classifier_of(name)
        if isinstance(classifier, MarginClassifier):
            return bn_feat, classifier(bn_feat, labels)
        return bn_feat, classifier(bn_feat)

    def forward(
        self,
        feats: Sequence[torch.Tensor],
        labels: Optional[torch.Tensor] = None
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """BNNecks and classifiers of every feature.

        Args:
            feats (Sequence[torch.Tensor]): ``num_features`` tensors
                ``(B, C)``, global first.
            labels (torch.Tensor, optional): ``(B, )`` identities, needed by
                margin classifiers in training. Defaults to None.

        Returns:
            tuple[list[torch.Tensor], list[torch.Tensor]]: BN features
            ``(B, C)`` and logits ``(B, num_classes)``, global first.
        """
        self._check_num_features(feats)
        outs = [
            self.forward_one(name, feat, labels)
            for name, feat in zip(self.feature_names, feats)
        ]
        return [out[0] for out in outs], [out[1] for out in outs]

    # ----------------------------------------------------------------- loss
    def feature_losses(self, feat: torch.Tensor, cls_score: torch.Tensor,
                       labels: torch.Tensor
                       ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """ID and metric loss of one feature.

        Args:
            feat (torch.Tensor): ``(B, C)`` feature before BN (metric loss).
            cls_score (torch.Tensor): ``(B, num_classes)`` logits (ID).
            labels (torch.Tensor): ``(B, )`` identities.

        Returns:
            tuple[torch.Tensor, torch.Tensor | None]: ID loss and metric
            loss (None without ``loss_triplet``).
        """
        loss_cls = self.loss_cls(cls_score, labels)
        loss_triplet = (
            self.loss_triplet(feat, labels)
            if self.loss_triplet is not None else None)
        return loss_cls, loss_triplet

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

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: Sequence[ReIDDataSample]
             ) -> Dict[str, torch.Tensor]:
        """Training losses.

        Args:
            feats (Sequence[torch.Tensor]): ``num_features`` features
                ``(B, C)`` before BN, global first.
            data_samples (Sequence[ReIDDataSample]): Samples with
                ``gt_label``.

        Returns:
            dict[str, torch.Tensor]: ``loss_cls``, ``loss_triplet`` and
            ``loss_center`` (when configured) and ``accuracy`` (top-1 % of
            the global classifier).
        """
        labels = self.labels_of(data_samples, feats[0].device)
        _, cls_scores = self(feats, labels)
        terms = [
            self.feature_losses(feat, score, labels)
            for feat, score in zip(feats, cls_scores)
        ]
        losses = dict(loss_cls=self.combine([term[0] for term in terms]))
        if self.loss_triplet is not None:
            losses['loss_triplet'] = self.combine([term[1] for term in terms])
        if self.loss_center is not None:
            losses['loss_center'] = self.loss_center(feats[0], labels)
        losses['accuracy'] = top1_accuracy(cls_scores[0], labels)
        return losses

    # -------------------------------------------------------------- predict
    def predict_feature(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """The test feature.

        Args:
            feats (Sequence[torch.Tensor]): ``num_features`` features
                ``(B, C)``, global first.

        Returns:
            torch.Tensor: ``(B, feat_dim)``, ``concat(f_0, f_i / P)`` before
            or after BN (``neck_feat``).
        """
        self._check_num_features(feats)
        if self.neck_feat == 'after':
            feats = [
                self.bnnecks[name](feat)
                for name, feat in zip(self.feature_names, feats)
            ]
        if len(feats) == 1:
            return feats[0]
        parts = len(feats) - 1
        return torch.cat(
            [feats[0]] + [feat / parts for feat in feats[1:]], dim=1)
