"""The image encoder of CLIP (Radford et al., "Learning Transferable Visual
Models From Natural Language Supervision", ICML 2021) as a re-ID backbone,
as CLIP-ReID (Li et al., AAAI 2023) fine-tunes it."""
from typing import List, Literal, Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmpha.registry import MODELS
from .transreid_vit import IdsType, TransReIDViT

ReIDFeature = Literal['before_proj', 'after_proj']


def _resolve_act(act_cfg: dict) -> dict:
    # mmcv builds activations from MMEngine's root registry, which does not
    # see mmpretrain's QuickGELU outside a runner's default scope.
    act_cfg = dict(act_cfg)
    if isinstance(act_cfg.get('type'), str):
        cls = MODELS.get(
            act_cfg['type']) or MODELS.get('mmpretrain.' + act_cfg['type'])
        if cls is None:
            raise ValueError(f'act_cfg type {act_cfg["type"]!r} is not a '
                             'registered activation')
        act_cfg['type'] = cls
    return act_cfg


@MODELS.register_module()
class CLIPViT(TransReIDViT):
    """CLIP's ViT image encoder with TransReID's stages, SIE and loading.

    What differs from :class:`TransReIDViT` (all to compute CLIP's image
    features from OpenAI's weights):

    - QuickGELU in the MLPs (``x * sigmoid(1.702 x)``, ``act_cfg``);
    - ``pre_norm`` (CLIP's ``ln_pre``), applied to the tokens after the
      position embedding (and SIE), before the blocks;
    - a patch convolution without bias (CLIP's ``conv1``);
    - LayerNorm eps 1e-5;
    - ``proj`` ``(C, D)``, CLIP's ``visual.proj``, used as ``x @ proj``.
      With ``reid_feature='after_proj'`` :meth:`forward_last` projects every
      token, so the global feature is CLIP's image embedding of width D and
      :attr:`out_channels` is D (JPM refuses this mode); with
      ``'before_proj'`` (CLIP-ReID's 768-d feature for ViT-B/16) the
      feature is ``ln_post`` of the class token and :meth:`clip_embedding`
      gives the projected one.

    Load OpenAI-layout weights with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., layout='clip')``
    (the layout is also detected); the position embedding is resized to the
    re-ID grid, the text tower dropped, see
    :func:`~mmpha.models.utils.convert_pretrained_checkpoint`.

    Args:
        arch (str | dict): As :class:`TransReIDViT`; ``'base'`` is CLIP's
            ViT-B (width 768, 12 layers, 12 heads). Defaults to ``'base'``.
        proj_dims (int): D, the width of CLIP's joint embedding (512 for
            ViT-B/16). Defaults to 512.
        reid_feature (str): ``'before_proj'`` or ``'after_proj'``.
            Defaults to ``'before_proj'``.
        stride (int | tuple[int, int]): Patch stride; CLIP uses the patch
            size. Defaults to 16.
        norm_cfg (dict): Normalisation layers. Defaults to
            ``dict(type='LN', eps=1e-5)``.
        act_cfg (dict): MLP activation. Defaults to
            ``dict(type='QuickGELU')``.
        init_cfg (dict | list[dict], optional): See :class:`TransReIDViT`.
            Defaults to None.
        **kwargs: Other arguments of :class:`TransReIDViT` (``img_size``,
            ``patch_size``, ``camera_num``, ``drop_path_rate``, ...).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 proj_dims: int = 512,
                 reid_feature: ReIDFeature = 'before_proj',
                 stride: Union[int, tuple] = 16,
                 norm_cfg: dict = dict(type='LN', eps=1e-5),
                 act_cfg: dict = dict(type='QuickGELU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if reid_feature not in ('before_proj', 'after_proj'):
            raise ValueError("reid_feature must be 'before_proj' or "
                             f"'after_proj', got {reid_feature!r}")
        if not isinstance(proj_dims, int) or proj_dims < 1:
            raise ValueError(f'proj_dims must be a positive int, got '
                             f'{proj_dims!r}')
        if 'layer_cfgs' in kwargs:
            raise ValueError('CLIPViT sets layer_cfgs itself (QuickGELU); '
                             'use act_cfg')
        super().__init__(
            arch=arch,
            stride=stride,
            norm_cfg=norm_cfg,
            layer_cfgs=dict(act_cfg=_resolve_act(act_cfg)),
            init_cfg=init_cfg,
            **kwargs)
        # CLIP's conv1 has no bias: its ln_pre would cancel a constant shift.
        self.patch_embed.projection.register_parameter('bias', None)
        self.pre_norm = build_norm_layer(norm_cfg, self.embed_dims)[1]
        self.proj = nn.Parameter(torch.empty(self.embed_dims, proj_dims))
        self.proj_dims = proj_dims
        self.reid_feature = reid_feature

    @property
    def out_channels(self) -> int:
        """int: Width of the global feature: D after proj, else C."""
        if self.reid_feature == 'after_proj':
            return self.proj_dims
        return self.embed_dims

    def init_weights(self) -> None:
        """Initialise as :class:`TransReIDViT`; ``proj`` as CLIP does
        (normal, std ``C ** -0.5``) unless the checkpoint holds it."""
        with torch.no_grad():
            nn.init.normal_(self.proj, std=self.embed_dims**-0.5)
        super().init_weights()

    def embed(self,
              x: torch.Tensor,
              cam_ids: IdsType = None,
              view_ids: IdsType = None) -> torch.Tensor:
        """Tokens as :meth:`TransReIDViT.embed`, then ``ln_pre``.

        Args:
            x (torch.Tensor): ``(B, C_in, H, W)`` images.
            cam_ids (torch.Tensor | Sequence[int], optional): See
                :meth:`TransReIDViT.embed`. Defaults to None.
            view_ids (torch.Tensor | Sequence[int], optional): See
                :meth:`TransReIDViT.embed`. Defaults to None.

        Returns:
            torch.Tensor: ``(B, 1 + N, C)`` normalised tokens.
        """
        return self.pre_norm(super().embed(x, cam_ids, view_ids))

    def forward_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last block, ``ln_post`` and, with ``'after_proj'``, ``proj``.

        Args:
            tokens (torch.Tensor): ``(B, T, C)``.

        Returns:
            torch.Tensor: ``(B, T, C)``, or ``(B, T, D)`` after proj.
        """
        out = super().forward_last(tokens)
        if self.reid_feature == 'after_proj':
            out = out @ self.proj
        return out

    def clip_embedding(self,
                       x: torch.Tensor,
                       cam_ids: IdsType = None,
                       view_ids: IdsType = None) -> torch.Tensor:
        """CLIP's image embedding ``ln_post(x[:, 0]) @ proj``.

        Args:
            x (torch.Tensor): ``(B, C_in, H, W)`` images.
            cam_ids (torch.Tensor | Sequence[int], optional): Defaults to
                None.
            view_ids (torch.Tensor | Sequence[int], optional): Defaults to
                None.

        Returns:
            torch.Tensor: ``(B, D)``.
        """
        feat = self.forward_reid(x, cam_ids, view_ids).global_feat
        return feat if self.reid_feature == 'after_proj' else feat @ self.proj
