"""PHA's high-frequency branches: BNNecks, a shared classifier and losses."""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmpha.registry import MODELS
from .reid_head import ClsType, ReIDHead, top1_accuracy

BRANCHES: Tuple[str, ...] = ('x', 'xhf')
WeightSchedule = Mapping[str, float]


@MODELS.register_module()
class PHAHead(ReIDHead):
    """Losses of PHA's high-frequency (HF) token branches (paper Sec. 3.3).

    A :class:`ReIDHead` with one named feature per branch and a shared
    classifier; what it adds is the epoch weight. Each HF branch is a subset
    of tokens (the class token and the selected HF patches) of ``x`` (branch
    ``'x'``) or of its low-frequency-dropped copy ``x_hf`` (branch
    ``'xhf'``), passed through the backbone's shared blocks
    and global last block + norm. Its class token gets its own BNNeck; all
    branches share ONE bias-free classifier. Per branch the losses are ID
    (``loss_cls`` on the classifier's logits of the BN feature) and triplet
    (``loss_triplet`` on the feature before BN), both multiplied by the
    epoch-dependent weight ``w(e) = min(step * e, max)`` (``e`` 1-based).

    The head only exists in training: the test feature never uses it, so a
    checkpoint trained with it loads into a plain TransReID model (its keys
    are reported as unexpected and ignored).

    Args:
        num_classes (int): Number of training identities.
        in_channels (int, optional): Feature width C; :class:`PHA` fills it
            from the backbone when None. Defaults to None.
        branches (Sequence[str]): HF branches that get a BNNeck and losses,
            a subset of ``('x', 'xhf')``; :class:`PHA` sets it from its
            ``use_hf_x`` / ``use_hf_xhf`` switches. Defaults to
            ``('x', 'xhf')``.
        loss_cls (dict): ID loss config. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        loss_triplet (dict, optional): Triplet loss config on the features
            before BN; None disables it. Defaults to
            ``dict(type='TripletLoss', margin=None, loss_weight=1.0)``.
        hf_weight_schedule (dict): ``dict(step=0.05, max=0.5)``, the
            paper's ``w(e) = min(0.05 * e, 0.5)``. Defaults to that.
        cls_type (str): The shared classifier, as in :class:`ReIDHead`.
            Defaults to ``'linear'`` (bias-free ``nn.Linear``).
        cls_scale (float): As in :class:`ReIDHead`. Defaults to 30.0.
        cls_margin (float): As in :class:`ReIDHead`. Defaults to 0.35.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Optional[int] = None,
                 branches: Sequence[str] = BRANCHES,
                 loss_cls: dict = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 loss_triplet: Optional[dict] = dict(
                     type='TripletLoss', margin=None, loss_weight=1.0),
                 hf_weight_schedule: WeightSchedule = dict(step=0.05, max=0.5),
                 cls_type: ClsType = 'linear',
                 cls_scale: float = 30.0,
                 cls_margin: float = 0.35,
                 init_cfg: Optional[dict] = None) -> None:
        if in_channels is None:
            raise ValueError(
                'in_channels is None: give the feature width, or build the '
                "head inside PHA, which sets it to the backbone's embed_dims")
        branches = tuple(branches)
        if not branches or len(set(branches)) != len(branches) or any(
                b not in BRANCHES for b in branches):
            raise ValueError(f'branches must be a non-empty subset of '
                             f'{BRANCHES} without repeats, got {branches}')
        schedule = dict(hf_weight_schedule)
        if set(schedule) != {'step', 'max'} or any(
                not isinstance(v, (int, float)) or v < 0
                for v in schedule.values()):
            raise ValueError(
                'hf_weight_schedule must be dict(step=float >= 0, max=float '
                f'>= 0), got {hf_weight_schedule!r}')
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            num_features=branches,
            shared_classifier=True,
            loss_cls=loss_cls,
            loss_triplet=loss_triplet,
            cls_type=cls_type,
            cls_scale=cls_scale,
            cls_margin=cls_margin,
            init_cfg=init_cfg)
        self.branches = branches
        self.weight_step = float(schedule['step'])
        self.weight_max = float(schedule['max'])

    def hf_weight(self, epoch: int) -> float:
        """The weight of the HF losses at a 1-based epoch.

        Args:
            epoch (int): Current training epoch, counted from 1.

        Returns:
            float: ``min(step * epoch, max)``.
        """
        if epoch < 1:
            raise ValueError(f'epoch is counted from 1, got {epoch}')
        return min(self.weight_step * epoch, self.weight_max)

    def forward(self,
                feats: Mapping[str, Tensor],
                labels: Optional[Tensor] = None
                ) -> Dict[str, Tuple[Tensor, Tensor]]:
        """BNNeck and shared classifier of each branch.

        Args:
            feats (Mapping[str, Tensor]): Branch name -> class-token feature
                ``(B, C)`` before BN, one per configured branch.
            labels (Tensor, optional): ``(B, )`` identities, used by margin
                classifiers. Defaults to None.

        Returns:
            dict[str, tuple[Tensor, Tensor]]: Branch name -> (BN feature
            ``(B, C)``, logits ``(B, num_classes)``).
        """
        if set(feats) != set(self.branches):
            raise ValueError(f'expected features of the branches '
                             f'{self.branches}, got {tuple(feats)}')
        return {
            branch: self.forward_one(branch, feats[branch], labels)
            for branch in self.branches
        }

    def loss(self, feats: Mapping[str, Tensor], labels: Tensor,
             epoch: int) -> Dict[str, Tensor]:
        """Weighted ID and triplet losses of every HF branch.

        Args:
            feats (Mapping[str, Tensor]): Branch name -> ``(B, C)`` feature
                before BN.
            labels (Tensor): ``(B, )`` identities.
            epoch (int): 1-based training epoch for the weight.

        Returns:
            dict[str, Tensor]: For each branch ``b``: ``loss_hf_{b}_cls``,
            ``loss_hf_{b}_triplet`` (when configured), both already
            multiplied by the weight, and ``hf_{b}_accuracy`` (top-1 %);
            plus ``hf_weight``, the weight used (logged, not optimised).
        """
        weight = self.hf_weight(epoch)
        outputs = self(feats, labels)
        losses = {}
        for branch, (_, cls_score) in outputs.items():
            losses[f'loss_hf_{branch}_cls'] = weight * self.loss_cls(
                cls_score, labels)
            if self.loss_triplet is not None:
                losses[f'loss_hf_{branch}_triplet'] = \
                    weight * self.loss_triplet(feats[branch], labels)
            losses[f'hf_{branch}_accuracy'] = top1_accuracy(cls_score, labels)
        losses['hf_weight'] = labels.new_tensor(weight, dtype=torch.float)
        return losses
