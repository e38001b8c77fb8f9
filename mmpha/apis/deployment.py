"""The inference model as a plain ``images -> features`` module, its ONNX
export, and the check of the exported graph against PyTorch.

Symbols: ``B`` batch size, ``H x W`` input size, ``D`` feature width.
"""
import contextlib
import logging
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor, nn


@contextlib.contextmanager
def _fixed_side_info(model: nn.Module, cam_ids: Optional[Tensor],
                     view_ids: Optional[Tensor]) -> Iterator[None]:
    # ReIDModel reads camera / view ids from data samples (Python objects),
    # which a traced graph cannot take with a dynamic batch; for the
    # duration of one call the ids come from tensors instead.
    model.side_info = lambda *args, **kwargs: (cam_ids, view_ids)
    try:
        yield
    finally:
        del model.side_info


class InferenceWrapper(nn.Module):
    """A re-ID model as ``images -> features``, ready to trace or export.

    The wrapped model's own inference path runs (``model.extract_feat``,
    with its ``flip_test`` setting), so the features are those of
    ``tools/test.py``.

    With ``with_preprocess`` the module takes raw pixels and applies the
    data preprocessor's channel conversion and normalisation itself, so
    that a deployed model needs nothing but resizing: the input is then a
    float ``(B, 3, H, W)`` batch in 0..255, in the channel order the
    pipeline loads (BGR, as OpenCV reads images). Without it the input is
    the normalised batch the model sees.

    Camera side information (SIE): a model whose backbone has camera
    embeddings takes a second input ``cam_ids`` ``(B, )`` (int64, 0-based)
    when ``with_cam_ids`` is True; otherwise every image uses camera 0.
    View ids, when the backbone uses them, are always 0.

    Args:
        model (nn.Module): A :class:`~mmpha.models.ReIDModel` (or subclass)
            in eval mode.
        with_preprocess (bool): Include the normalisation. Defaults to True.
        with_cam_ids (bool): Take camera ids as a second input (only for a
            backbone with camera SIE). Defaults to False.
    """

    def __init__(self,
                 model: nn.Module,
                 with_preprocess: bool = True,
                 with_cam_ids: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_preprocess = bool(with_preprocess)
        backbone = model.backbone
        self.camera_num = int(getattr(backbone, 'camera_num', 0))
        self.view_num = int(getattr(backbone, 'view_num', 0))
        if with_cam_ids and not self.camera_num:
            raise ValueError(
                'with_cam_ids=True needs a backbone with camera SIE '
                '(camera_num > 0); this model has camera_num=0')
        self.with_cam_ids = bool(with_cam_ids)

    @property
    def uses_side_info(self) -> bool:
        """bool: Whether the backbone adds camera or view embeddings."""
        return bool(self.camera_num or self.view_num)

    def preprocess(self, images: Tensor) -> Tensor:
        """Raw ``(B, 3, H, W)`` pixels in 0..255 -> the model's input."""
        preprocessor = self.model.data_preprocessor
        if getattr(preprocessor, 'to_rgb', False):
            images = images.flip(1)
        return preprocessor.from_unit_range(images / 255.)

    def forward(self,
                images: Tensor,
                cam_ids: Optional[Tensor] = None) -> Tensor:
        """Features of a batch.

        Args:
            images (Tensor): ``(B, 3, H, W)`` float batch, raw pixels or
                normalised (see ``with_preprocess``).
            cam_ids (Tensor, optional): ``(B, )`` int64 camera ids, used when
                ``with_cam_ids``. Defaults to None.

        Returns:
            Tensor: ``(B, D)`` features.
        """
        x = self.preprocess(images) if self.with_preprocess else images
        if not self.uses_side_info:
            return self.model.extract_feat(x)
        # zeros_like keeps the batch axis dynamic in a traced graph.
        zeros = torch.zeros_like(x[:, 0, 0, 0], dtype=torch.long)
        cams = views = None
        if self.camera_num:
            cams = cam_ids.long() if (self.with_cam_ids
                                      and cam_ids is not None) else zeros
        if self.view_num:
            views = zeros
        with _fixed_side_info(self.model, cams, views):
            return self.model.extract_feat(x)


def export_onnx(model: nn.Module,
                out_file: str,
                input_shape: Tuple[int, int],
                opset: int = 17,
                with_preprocess: bool = True,
                with_cam_ids: bool = False) -> InferenceWrapper:
    """Export the inference model to ONNX with a dynamic batch axis.

    The graph has the input ``images`` ``(batch, 3, H, W)`` float32 (and
    ``cam_ids`` ``(batch, )`` int64 with ``with_cam_ids``) and the output
    ``features`` ``(batch, D)``. See :class:`InferenceWrapper` for what the
    inputs hold.

    Args:
        model (nn.Module): The re-ID model in eval mode, on the CPU.
        out_file (str): Output ``.onnx`` path.
        input_shape (tuple[int, int]): ``(H, W)``, fixed in the graph.
        opset (int): ONNX opset version. Defaults to 17.
        with_preprocess (bool): Include normalisation (raw pixel input).
            Defaults to True.
        with_cam_ids (bool): Add the ``cam_ids`` input. Defaults to False.

    Returns:
        InferenceWrapper: The wrapper that was exported (for checking).
    """
    wrapper = InferenceWrapper(model, with_preprocess,
                               with_cam_ids).eval().cpu()
    h, w = input_shape
    # Batch 2 at trace time: a batch of 1 could let the exporter fold the
    # batch size into constants.
    images = torch.rand(2, 3, h, w) * 255
    args: tuple = (images, )
    input_names = ['images']
    dynamic_axes = {'images': {0: 'batch'}, 'features': {0: 'batch'}}
    if with_cam_ids:
        args = (images, torch.zeros(2, dtype=torch.long))
        input_names.append('cam_ids')
        dynamic_axes['cam_ids'] = {0: 'batch'}
    with torch.no_grad(), _quiet_export():
        torch.onnx.export(
            wrapper,
            args,
            out_file,
            input_names=input_names,
            output_names=['features'],
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
            # The TorchScript exporter needs no extra package (the
            # dynamo-based one requires onnxscript).
            dynamo=False)
    print_log(f'ONNX model written to {out_file}', logger='current')
    return wrapper


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        yield


@dataclass
class OnnxCheck:
    """Result of :func:`verify_onnx`.

    Args:
        batch_size (int): Batch size of the check (differs from the export).
        max_abs_diff (float): Largest absolute difference of the features.
        tolerance (float): The allowed difference.
        output_shape (tuple[int, ...]): Shape of the ONNX output.
    """

    batch_size: int
    max_abs_diff: float
    tolerance: float
    output_shape: Tuple[int, ...]

    @property
    def passed(self) -> bool:
        """bool: Whether the difference is within the tolerance."""
        return self.max_abs_diff <= self.tolerance


def verify_onnx(wrapper: InferenceWrapper,
                onnx_file: str,
                input_shape: Tuple[int, int],
                batch_size: int = 3,
                tolerance: float = 1e-4,
                seed: int = 0) -> OnnxCheck:
    """Run the exported graph with onnxruntime and compare with PyTorch.

    A random batch of ``batch_size`` images (3 by default, not the 2 used at
    export, so the dynamic batch axis is exercised) goes through both.
    The default tolerance of ``1e-4`` allows for float32 reordering of the
    matrix products over a dozen transformer blocks.

    Args:
        wrapper (InferenceWrapper): As returned by :func:`export_onnx`.
        onnx_file (str): The exported model.
        input_shape (tuple[int, int]): ``(H, W)``.
        batch_size (int): Batch size of the check. Defaults to 3.
        tolerance (float): Maximum absolute difference allowed. Defaults to
            1e-4.
        seed (int): Seed of the random batch. Defaults to 0.

    Returns:
        OnnxCheck: The difference and whether it is within the tolerance.
    """
    import onnxruntime as ort

    gen = torch.Generator().manual_seed(seed)
    h, w = input_shape
    images = torch.rand(batch_size, 3, h, w, generator=gen)
    if wrapper.with_preprocess:
        images = (images * 255).round()
    feeds = {'images': images.numpy()}
    args: tuple = (images, )
    if wrapper.with_cam_ids:
        cams = torch.randint(
            0, wrapper.camera_num, (batch_size, ), generator=gen)
        feeds['cam_ids'] = cams.numpy()
        args = (images, cams)
    with torch.no_grad():
        expected = wrapper(*args).numpy()
    session = ort.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    actual = session.run(['features'], feeds)[0]
    if actual.shape != expected.shape:
        raise RuntimeError(
            f'ONNX output shape {actual.shape} differs from PyTorch '
            f'{expected.shape}')
    diff = float(np.abs(actual - expected).max())
    check = OnnxCheck(batch_size, diff, tolerance, tuple(actual.shape))
    if not check.passed:
        print_log(
            f'ONNX and PyTorch differ by {diff:.3g} > {tolerance:.1g}',
            logger='current',
            level=logging.WARNING)
    return check
