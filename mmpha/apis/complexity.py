"""Model complexity: FLOPs and the parameters that inference uses."""
from typing import Dict, Tuple, Union

import torch
from torch import nn

from .deployment import InferenceWrapper


def inference_parameters(model: nn.Module,
                         input_shape: Tuple[int, int],
                         batch_size: int = 1) -> int:
    """Number of parameters that the inference feature depends on.

    Found with autograd: a parameter counts when the features have a
    gradient with respect to it. Training-only modules (classifiers, PHA's
    branches) therefore count for nothing.

    Args:
        model (nn.Module): A re-ID model.
        input_shape (tuple[int, int]): ``(H, W)``.
        batch_size (int): Batch size of the probe. Defaults to 1.

    Returns:
        int: The number of scalar parameters used at inference.
    """
    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    params = [p for p in model.parameters()]
    saved = [p.requires_grad for p in params]
    device = params[0].device if params else torch.device('cpu')
    try:
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            out = wrapper(
                torch.randn(batch_size, 3, *input_shape, device=device))
            grads = torch.autograd.grad(out.sum(), params, allow_unused=True)
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)
    return int(sum(p.numel() for p, g in zip(params, grads) if g is not None))


def _sdpa_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    # Q K^T and the attention-weighted sum of V: two batched products.
    batch, heads, len_q, dim = query_shape
    len_k, dim_v = key_shape[-2], value_shape[-1]
    return 2 * batch * heads * len_q * len_k * (dim + dim_v)


def _extra_flop_formulas() -> dict:
    # torch's counter knows the CUDA attention kernels but not the CPU one
    # that scaled_dot_product_attention dispatches to on the CPU.
    aten = torch.ops.aten
    name = '_scaled_dot_product_flash_attention_for_cpu'
    return {getattr(aten, name): _sdpa_flops} if hasattr(aten, name) else {}


def get_complexity(model: nn.Module,
                   input_shape: Tuple[int, int],
                   show_table: bool = False) -> Dict[str, Union[int, str]]:
    """FLOPs and parameters of the inference model for one image.

    FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode`
    on the model's inference path
    (:class:`~mmpha.apis.deployment.InferenceWrapper` without
    preprocessing). It counts matrix products and convolutions (a
    multiply-add is 2 FLOPs; ``macs`` is half of it, the number OpenMMLab
    tools usually call "Flops"); normalisation, softmax and activations are
    left out, as in MMEngine's and fvcore's counters. Counting at the
    operator level, not by tracing, it sees exactly what runs.

    Args:
        model (nn.Module): A re-ID model in eval mode.
        input_shape (tuple[int, int]): ``(H, W)``.
        show_table (bool): Also return the per-module table. Defaults to
            False.

    Returns:
        dict: ``flops`` and ``macs`` (int), ``inference_params`` (int, see
        :func:`inference_parameters`), ``total_params`` (int, every
        parameter of the model including training-only ones), their
        ``*_str`` forms, and ``table`` (str) with ``show_table``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    wrapper = InferenceWrapper(model, with_preprocess=False).eval()
    device = next(model.parameters()).device
    counter = FlopCounterMode(
        display=False, depth=4, custom_mapping=_extra_flop_formulas())
    with torch.no_grad(), counter:
        wrapper(torch.randn(1, 3, *input_shape, device=device))
    flops = int(counter.get_total_flops())
    used = inference_parameters(model, input_shape)
    total = sum(p.numel() for p in model.parameters())
    result = dict(
        flops=flops,
        flops_str=human_size(flops),
        macs=flops // 2,
        macs_str=human_size(flops // 2),
        inference_params=used,
        inference_params_str=human_size(used),
        total_params=total,
        total_params_str=human_size(total))
    if show_table:
        result['table'] = counter.get_table(depth=4)
    return result


def human_size(value: int) -> str:
    """A count with a K / M / G / T suffix and 3 significant digits.

    Args:
        value (int): The count.

    Returns:
        str: e.g. ``'21.6M'``.
    """
    for suffix, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.3g}{suffix}'
    return str(int(value))
