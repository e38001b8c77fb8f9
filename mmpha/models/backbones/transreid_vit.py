"""The TransReID ViT backbone (He et al., "TransReID: Transformer-based
Object Re-Identification", ICCV 2021, Sec. 3.1-3.2)."""
from collections import namedtuple
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.models.utils import to_2tuple

from mmpha.registry import MODELS
from mmpha.utils import check_positive_int
from ..utils.checks import check_non_negative_int
from ..utils.patch_grid import patch_grid_size
from ..utils.pretrained_layouts import (PRETRAINED_OPTIONS, PretrainedReport,
                                        convert_pretrained_checkpoint,
                                        is_pretrained_layout)
from ..utils.release_converters import (is_release_checkpoint,
                                        release_backbone_state_dict)
from ..utils.weight_converters import (convert_vit_checkpoint,
                                       load_matching_shapes, load_weights_file,
                                       resize_pos_embed_to_grid)
from .contract import BackboneFeatures

IntPair = Union[int, Tuple[int, int]]
IdsType = Optional[Union[torch.Tensor, Sequence[int]]]

LoadResult = namedtuple(
    'LoadResult',
    ['missing_keys', 'unexpected_keys', 'skipped_keys', 'report'],
    defaults=(None, ))
LoadResult.__doc__ = (
    'What :meth:`TransReIDViT.load_pretrained` loaded: lists '
    'of missing, unexpected and skipped (wrong shape) keys, and the '
    'PretrainedReport of a timm / DINO / MAE / CLIP file (else None).')


@MODELS.register_module()
class TransReIDViT(VisionTransformer):
    """Vision Transformer with overlapping patches and side information.

    mmpretrain's :class:`~mmpretrain.models.backbones.VisionTransformer`
    (its ``TransformerEncoderLayer`` blocks and mmcv's ``PatchEmbed``) with
    what TransReID adds:

    - overlapping patches: the ``patch_size`` convolution moves by
      ``stride`` with no padding (16 / 12 gives a 21x10 grid at 256x128);
    - SIE (side information embedding): a learned vector per camera, per
      view, or per (camera, view) pair, times ``sie_coef``, added to every
      token together with the position embedding;
    - stages that the re-ID heads call one by one: :meth:`embed`,
      :meth:`forward_blocks` (the first L-1 blocks, shared by every branch)
      and :meth:`forward_last` (block L + the final LayerNorm, the global
      branch and the template of the JPM branch).

    Pretrained weights (``init_cfg=dict(type='Pretrained', checkpoint=...)``)
    may be a timm / JAX-converted / DeiT ``.pth``, a ``.safetensors`` file or
    an mmpretrain checkpoint; the position embedding is resized
    (bilinearly, class token kept) to this model's grid. See
    :meth:`load_pretrained`.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` (ViT-Ti/S/B
            of timm / augreg), ``'deit-tiny'``, ``'deit-small'``,
            ``'deit-base'``, or a dict with ``embed_dims``, ``num_layers``
            (>= 1), ``num_heads`` and ``feedforward_channels``.
            Defaults to ``'base'``.
        img_size (int | tuple[int, int]): Input ``(H, W)``; inputs must give
            the same patch grid. Defaults to ``(256, 128)``.
        patch_size (int | tuple[int, int]): Patch size. Defaults to 16.
        stride (int | tuple[int, int]): Patch stride. Defaults to 12.
        in_channels (int): Input channels. Defaults to 3.
        camera_num (int): Number of cameras for SIE; 0 disables camera
            embeddings. Defaults to 0.
        view_num (int): Number of views for SIE; 0 disables view embeddings.
            With both > 0, one embedding per (camera, view) pair is learned,
            indexed ``cam * view_num + view`` as in TransReID. Defaults to 0.
        sie_coef (float): Scale of the SIE vector. Defaults to 3.0.
        drop_rate (float): Dropout after the position embedding and inside
            the blocks. Defaults to 0.
        attn_drop_rate (float): Dropout of attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of the last block; block
            ``i`` gets ``i / (L - 1)`` of it. Defaults to 0.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        norm_cfg (dict): Normalisation layers. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        interpolate_mode (str): Interpolation used to resize the position
            embedding of a checkpoint. Defaults to ``'bilinear'``.
        layer_cfgs (dict | Sequence[dict]): Extra arguments of each
            ``TransformerEncoderLayer``. Defaults to ``dict()``.
        init_cfg (dict | list[dict], optional): Initialisation; a
            ``Pretrained`` entry is loaded by :meth:`load_pretrained`.
            Defaults to None.
    """
    arch_zoo = {
        **dict.fromkeys(
            ['t', 'tiny', 'deit-t', 'deit-tiny'], {
                'embed_dims': 192,
                'num_layers': 12,
                'num_heads': 3,
                'feedforward_channels': 768
            }),
        **dict.fromkeys(
            ['s', 'small', 'deit-s', 'deit-small'], {
                'embed_dims': 384,
                'num_layers': 12,
                'num_heads': 6,
                'feedforward_channels': 1536
            }),
        **dict.fromkeys(
            ['b', 'base', 'deit-b', 'deit-base'], {
                'embed_dims': 768,
                'num_layers': 12,
                'num_heads': 12,
                'feedforward_channels': 3072
            }),
    }
    _ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads',
                  'feedforward_channels')

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: IntPair = (256, 128),
                 patch_size: IntPair = 16,
                 stride: IntPair = 12,
                 in_channels: int = 3,
                 camera_num: int = 0,
                 view_num: int = 0,
                 sie_coef: float = 3.0,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 interpolate_mode: str = 'bilinear',
                 layer_cfgs: Union[dict, Sequence[dict]] = dict(),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        arch = self._check_arch(arch)
        check_non_negative_int(camera_num, 'camera_num')
        check_non_negative_int(view_num, 'view_num')
        for name, value in (('drop_rate', drop_rate), ('attn_drop_rate',
                                                       attn_drop_rate),
                            ('drop_path_rate', drop_path_rate)):
            if not 0 <= value < 1:
                raise ValueError(f'{name} must be in [0, 1), got {value}')
        grid = patch_grid_size(img_size, patch_size, stride)

        if isinstance(layer_cfgs, dict):
            layer_cfgs = [layer_cfgs] * arch['num_layers']
        layer_cfgs = [
            dict(dict(attn_drop_rate=attn_drop_rate), **cfg)
            for cfg in layer_cfgs
        ]
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            in_channels=in_channels,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            qkv_bias=qkv_bias,
            norm_cfg=norm_cfg,
            final_norm=True,
            out_type='cls_token',
            with_cls_token=True,
            interpolate_mode=interpolate_mode,
            # padding=0 keeps the grid of the released model (21x10 at
            # 256x128); mmcv's default 'corner' padding would give 22x11.
            patch_cfg=dict(stride=stride, padding=0),
            layer_cfgs=layer_cfgs,
            init_cfg=init_cfg)
        self.grid = grid
        assert tuple(self.patch_resolution) == grid, (self.patch_resolution,
                                                      grid)
        self.patch_size = to_2tuple(patch_size)
        self.stride = to_2tuple(stride)

        self.camera_num = camera_num
        self.view_num = view_num
        self.sie_coef = float(sie_coef)
        if camera_num and view_num:
            num_sie = camera_num * view_num
        else:
            num_sie = camera_num or view_num
        self.sie_embed = nn.Parameter(torch.zeros(
            num_sie, self.embed_dims)) if num_sie else None

    @classmethod
    def _check_arch(cls, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in cls.arch_zoo:
                raise ValueError(f'arch "{arch}" is not one of '
                                 f'{sorted(cls.arch_zoo)}, nor a dict')
            return dict(cls.arch_zoo[key])
        if not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        missing = set(cls._ARCH_KEYS) - set(arch)
        if missing:
            raise ValueError(f'a custom arch needs the keys {cls._ARCH_KEYS}; '
                             f'missing {sorted(missing)} in {arch}')
        for key in cls._ARCH_KEYS:
            check_positive_int(arch[key], f'arch["{key}"]')
        if arch['embed_dims'] % arch['num_heads']:
            raise ValueError(
                f'arch embed_dims={arch["embed_dims"]} is not divisible by '
                f'num_heads={arch["num_heads"]}')
        return dict(arch)

    # ------------------------------------------------------------ properties
    @property
    def blocks(self) -> ModuleList:
        """ModuleList: The L transformer blocks (mmpretrain ``layers``)."""
        return self.layers

    @property
    def norm(self) -> nn.Module:
        """nn.Module: The final LayerNorm (mmpretrain ``ln1``)."""
        return self.ln1

    @property
    def num_patches(self) -> int:
        """int: N, the number of patch tokens, ``Hp * Wp``."""
        return self.grid[0] * self.grid[1]

    def train(self, mode: bool = True) -> 'TransReIDViT':
        """Set training mode, returning ``self`` as ``nn.Module`` does.

        Args:
            mode (bool): Training (True) or evaluation mode.
                Defaults to True.

        Returns:
            TransReIDViT: ``self``.
        """
        super().train(mode)
        return self

    # ---------------------------------------------------------------- stages
    def _sie_index(self, cam_ids: IdsType, view_ids: IdsType, batch: int,
                   device: torch.device) -> torch.Tensor:
        ids = {}
        for name, value, num in (('cam_ids', cam_ids, self.camera_num),
                                 ('view_ids', view_ids, self.view_num)):
            if not num:
                continue
            if value is None:
                raise ValueError(
                    f'{name} are required: the backbone has SIE with '
                    f'camera_num={self.camera_num}, view_num={self.view_num}')
            value = torch.as_tensor(value).long().reshape(-1)
            if value.numel() != batch:
                raise ValueError(f'{name} must hold one id per image '
                                 f'({batch}), got {value.numel()}')
            # Ids already on an accelerator are not range-checked here: it
            # would synchronise the step (ReIDModel checks them on the host).
            if value.device.type == 'cpu' and not (
                    torch.jit.is_tracing() or torch.compiler.is_compiling()):
                if bool(((value < 0) | (value >= num)).any()):
                    raise ValueError(f'{name} must be in [0, {num}), got '
                                     f'{value.unique().tolist()}')
            ids[name] = value.to(device, non_blocking=True)
        if self.camera_num and self.view_num:
            return ids['cam_ids'] * self.view_num + ids['view_ids']
        return ids['cam_ids'] if self.camera_num else ids['view_ids']

    def embed(self,
              x: torch.Tensor,
              cam_ids: IdsType = None,
              view_ids: IdsType = None) -> torch.Tensor:
        """Patch embedding + class token + position embedding (+ SIE).

        Args:
            x (torch.Tensor): ``(B, C_in, H, W)`` images whose patch grid is
                this model's ``(Hp, Wp)``.
            cam_ids (torch.Tensor | Sequence[int], optional): ``(B, )``
                0-based camera ids; required when ``camera_num > 0``.
                Defaults to None.
            view_ids (torch.Tensor | Sequence[int], optional): ``(B, )``
                0-based view ids; required when ``view_num > 0``.
                Defaults to None.

        Returns:
            torch.Tensor: ``(B, 1 + N, C)`` tokens, the class token first,
            N = Hp * Wp patch tokens in raster order, C = ``embed_dims``.

        Raises:
            ValueError: If the input size gives another patch grid, or the
                ids are missing or out of range.
        """
        if x.dim() != 4:
            raise ValueError(f'expected (B, C, H, W) images, got shape '
                             f'{tuple(x.shape)}')
        in_size = tuple(int(s) for s in x.shape[-2:])
        if (in_size[0] < self.patch_size[0]
                or in_size[1] < self.patch_size[1] or patch_grid_size(
                    in_size, self.patch_size, self.stride) != self.grid):
            raise ValueError(
                f'input size {in_size[0]}x{in_size[1]} does not fit the '
                f'backbone, built for img_size {self.img_size[0]}x'
                f'{self.img_size[1]} (patch grid {self.grid[0]}x'
                f'{self.grid[1]}, patch {self.patch_size}, stride '
                f'{self.stride}); resize the input or set img_size')
        batch = x.shape[0]
        patches, _ = self.patch_embed(x)
        tokens = torch.cat([self.cls_token.expand(batch, -1, -1), patches],
                           dim=1)
        tokens = tokens + self.pos_embed
        if self.sie_embed is not None:
            index = self._sie_index(cam_ids, view_ids, batch, x.device)
            tokens = tokens + self.sie_coef * self.sie_embed[index][:, None]
        return self.drop_after_pos(tokens)

    def forward_blocks(self, tokens: torch.Tensor) -> torch.Tensor:
        """Run the first L-1 blocks, shared by every branch.

        Args:
            tokens (torch.Tensor): ``(B, T, C)`` any token sequence (the full
                ``1 + N`` one, or a subset).

        Returns:
            torch.Tensor: ``(B, T, C)``.
        """
        for block in self.layers[:-1]:
            tokens = block(tokens)
        return tokens

    def forward_last(self, tokens: torch.Tensor) -> torch.Tensor:
        """Run the last block and the final LayerNorm (the global branch).

        Args:
            tokens (torch.Tensor): ``(B, T, C)``, the output of
                :meth:`forward_blocks`.

        Returns:
            torch.Tensor: ``(B, T, C)``; ``[:, 0]`` is the global feature.
        """
        return self.ln1(self.layers[-1](tokens))

    def forward_reid(self,
                     x: torch.Tensor,
                     cam_ids: IdsType = None,
                     view_ids: IdsType = None) -> BackboneFeatures:
        """The re-ID backbone contract (:mod:`.contract`).

        Args:
            x (torch.Tensor): ``(B, C_in, H, W)`` images.
            cam_ids (torch.Tensor | Sequence[int], optional): See
                :meth:`embed`. Defaults to None.
            view_ids (torch.Tensor | Sequence[int], optional): See
                :meth:`embed`. Defaults to None.

        Returns:
            BackboneFeatures: ``global_feat`` ``(B, C)`` (class token after
            the last block + norm) and ``tokens`` ``(B, 1 + N, C)``, the
            output of the shared blocks (:meth:`forward_blocks`).
        """
        tokens = self.forward_blocks(self.embed(x, cam_ids, view_ids))
        return BackboneFeatures(
            global_feat=self.forward_last(tokens)[:, 0], tokens=tokens)

    def forward(self,
                x: torch.Tensor,
                cam_ids: IdsType = None,
                view_ids: IdsType = None) -> torch.Tensor:
        """All stages: the ``(B, C)`` global class-token feature.

        The arguments are those of :meth:`forward_reid`; the result is its
        ``global_feat``.
        """
        return self.forward_reid(x, cam_ids, view_ids).global_feat

    # --------------------------------------------------------------- weights
    def _pretrained_cfg(self) -> Optional[dict]:
        cfgs = self.init_cfg if isinstance(self.init_cfg,
                                           list) else [self.init_cfg]
        for cfg in cfgs:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                return cfg
        return None

    def init_weights(self) -> None:
        """Initialise randomly, then load the ``Pretrained`` checkpoint.

        Parameters that a checkpoint lacks (SIE, or everything when there is
        no checkpoint) are drawn from a truncated normal (std 0.02) as in
        TransReID.
        """
        pretrained = self._pretrained_cfg()
        if pretrained is None:
            super().init_weights()
            trunc_normal_(self.cls_token, std=0.02)
        else:
            # MMEngine's PretrainedInit would neither read .safetensors nor
            # rename timm keys, so the rest of init_cfg runs without it.
            full_cfg = self.init_cfg
            rest = [
                cfg for cfg in (
                    full_cfg if isinstance(full_cfg, list) else [full_cfg])
                if cfg is not pretrained
            ]
            self.init_cfg = rest or None
            try:
                super().init_weights()
                trunc_normal_(self.cls_token, std=0.02)
            finally:
                self.init_cfg = full_cfg
        if self.sie_embed is not None:
            trunc_normal_(self.sie_embed, std=0.02)
        if pretrained is not None:
            self.load_pretrained(
                pretrained['checkpoint'],
                prefix=pretrained.get('prefix'),
                **{
                    k: pretrained[k]
                    for k in PRETRAINED_OPTIONS if k in pretrained
                })

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args,
                           **kwargs) -> None:
        # load_state_dict pre-hook (registered by VisionTransformer): resize
        # a square checkpoint embedding to this model's (possibly
        # non-square) grid.
        name = prefix + 'pos_embed'
        if name not in state_dict or state_dict[
                name].shape == self.pos_embed.shape:
            return
        old_shape = tuple(state_dict[name].shape)
        state_dict[name] = resize_pos_embed_to_grid(
            state_dict[name],
            self.grid,
            num_extra_tokens=self.num_extra_tokens,
            mode=self.interpolate_mode)
        print_log(
            f'Resized pos_embed from {old_shape} to '
            f'{tuple(self.pos_embed.shape)} ({self.interpolate_mode}).',
            logger='current')

    def load_pretrained(self,
                        checkpoint: str,
                        prefix: Optional[str] = None,
                        **options) -> LoadResult:
        """Load ViT weights from a file of any supported format.

        timm / JAX / DeiT keys are renamed, classifier heads and a
        distillation token dropped, the position embedding resized to this
        model's grid; tensors whose shape differs from the model's are
        skipped. Missing, unexpected and skipped keys are logged.

        A whole checkpoint of the released TransReID / PHA code is detected
        and its backbone taken by
        :func:`~mmpha.models.utils.release_converters.release_backbone_state_dict`:
        blocks ``0 .. L-2`` from ``base``, the last block and norm from the
        branch the release runs (``b1`` / ``b1_block`` with JPM).

        Args:
            checkpoint (str): Path (``.pth``, ``.safetensors``, ...) or URL.
            prefix (str, optional): Only load the keys under this prefix,
                e.g. ``'backbone.'`` for a whole mmpha checkpoint; not
                allowed for a released checkpoint. Defaults to None.
            **options: ``layout``, ``dino_branch``, ``mae_fc_norm``,
                ``src_grid`` of timm-style / DINO / MAE / CLIP files
                (LUPerson, TransReID-SSL, ...), read by
                :func:`~mmpha.models.utils.convert_pretrained_checkpoint`,
                which reports where every tensor went.

        Returns:
            LoadResult: ``missing_keys``, ``unexpected_keys`` and
            ``skipped_keys`` (shape mismatches), lists of names.
        """
        print_log(
            f'Loading backbone weights from {checkpoint}', logger='current')
        loaded = load_weights_file(checkpoint)
        report = None
        if is_release_checkpoint(loaded) and not prefix:
            state_dict, report = release_backbone_state_dict(
                loaded, dst_grid=self.grid, mode=self.interpolate_mode)
            print_log(report.summary(), logger='current')
        elif not prefix and (options.get('layout', 'auto') != 'auto'
                             or is_pretrained_layout(loaded)):
            state_dict, report = convert_pretrained_checkpoint(
                loaded,
                self.state_dict(),
                self.grid,
                num_extra_tokens=self.num_extra_tokens,
                mode=self.interpolate_mode,
                **options)
            print_log(report.summary(), logger='current')
        else:
            state_dict = convert_vit_checkpoint(loaded, prefix=prefix)
        if 'pos_embed' in state_dict:
            # Resized here rather than by the hook so that the shape check
            # of load_matching_shapes sees the final shape.
            self._prepare_pos_embed(state_dict, '')
        missing, unexpected, skipped = load_matching_shapes(self, state_dict)
        return LoadResult(
            list(missing), list(unexpected), skipped,
            report if isinstance(report, PretrainedReport) else None)
