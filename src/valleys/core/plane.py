"""Losses on a 2-D plane of parameter space, with the first layer's affine dependence factored out.

On the plane theta(a, b) = c + a u + b v the first layer that reads the raw inputs X (an
``nn.Linear`` or ``nn.Conv1d/2d/3d`` called once, with trainable, unshared parameters) has
outputs that are affine in (a, b), because the layer is linear in its weight and bias
jointly::

    Z(a, b) = layer(X; W_c + a W_u + b W_v, b_c + a b_u + b b_v) = Z_c + a Z_u + b Z_v

with Z_u = layer(X; W_u, b_u). Z_c, Z_u and Z_v are computed once per batch, so each point
skips the first layer's matrix product for one addition of two (N, width) arrays; the rest
of the network runs as usual. That pays only when the layer's fan-in (input features, or
input channels times kernel size) is at least :data:`FACTOR_MIN_FAN_IN` (measured: for a
64-input layer the memory-bound addition costs as much as the product it replaces). Other
models (and functional models) are evaluated by :meth:`Landscape.losses`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from .._progress import progress_bar
from .checks import as_matrix

if TYPE_CHECKING:
    from .landscape import Landscape

_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: The first layer is factored out of a plane only when its fan-in is at least this.
FACTOR_MIN_FAN_IN = 256


def _fan_in(sub: nn.Module) -> int:
    if isinstance(sub, nn.Linear):
        return sub.in_features
    return (sub.in_channels // sub.groups) * int(torch.tensor(sub.kernel_size).prod())


def first_affine_layer(land: Landscape, min_fan_in: int = FACTOR_MIN_FAN_IN) -> tuple[str, nn.Module] | None:
    """``(name, module)`` of the layer that reads X directly, if it can be factored out (else None)."""
    module = land.module
    if module is None:
        return None
    X0 = land.batches[0][0]
    calls: dict[str, int] = {}
    reads_x: list[str] = []
    handles = []
    for name, sub in module.named_modules():
        if isinstance(sub, _AFFINE):
            def hook(m, args, name=name):
                calls[name] = calls.get(name, 0) + 1
                if args and args[0] is X0:
                    reads_x.append(name)
            handles.append(sub.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            land._forward(land.layout.unflatten(land.theta0), X0)
    finally:
        for h in handles:
            h.remove()
    if len(reads_x) != 1 or calls[reads_x[0]] != 1:
        return None
    name = reads_x[0]
    sub = dict(module.named_modules())[name]
    prefix = f"{name}." if name else ""
    own = [prefix + n for n, _ in sub.named_parameters(recurse=False)]
    shared = sum(1 for _, p in module.named_parameters(remove_duplicate=False) for q in sub.parameters() if p is q)
    if not own or any(n not in land.layout.names for n in own) or shared != len(own):
        return None
    if _fan_in(sub) < min_fan_in:
        return None
    return name, sub


def plane_losses(land: Landscape, center: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                 alphas: torch.Tensor, betas: torch.Tensor, progress: bool | None = None,
                 min_fan_in: int = FACTOR_MIN_FAN_IN) -> torch.Tensor:
    """L(center + a u + b v) for a in ``alphas``, b in ``betas``: shape (len(alphas), len(betas)).

    ``min_fan_in``: factor the first layer out only when its fan-in is at least this (0: always).
    """
    layer = None if land._small() or land._forward is None else first_affine_layer(land, min_fan_in)
    A, B = torch.meshgrid(alphas, betas, indexing="ij")
    if layer is None:
        thetas = center + A.reshape(-1, 1) * u + B.reshape(-1, 1) * v
        return land.losses(thetas, progress=progress).reshape(A.shape)
    name, sub = layer
    prefix = f"{name}." if name else ""
    own = {n: prefix + n for n, _ in sub.named_parameters(recurse=False)}
    with torch.no_grad():
        parts = []  # per batch: (Z_c, Z_u, Z_v)
        for X, _ in land.batches:
            Z = []
            for vec in (center, u, v):
                blocks = land.layout.unflatten(vec)
                Z.append(torch.func.functional_call(sub, {n: blocks[full] for n, full in own.items()}, (X,)))
            parts.append(Z)
        current: dict[str, torch.Tensor] = {}
        sub.forward = lambda *args, **kwargs: current["Z"]  # the instance attribute shadows Module.forward
        raw = land._loss_takes_raw()
        values = torch.empty(A.shape, dtype=land.dtype, device=land.device)
        try:
            with progress_bar(A.numel(), "plane", progress) as bar:
                for i, a in enumerate(alphas.tolist()):
                    rows = [torch.add(Zc, Zu, alpha=a) for Zc, Zu, _ in parts]  # Z_c + a Z_u, once per row
                    for j, b in enumerate(betas.tolist()):
                        theta = center + a * u + b * v
                        total = 0.0
                        for (X, Y), row, (_, _, Zv) in zip(land.batches, rows, parts, strict=True):
                            current["Z"] = torch.add(row, Zv, alpha=b)
                            out = land._forward.direct(theta, X)
                            total = total + land.loss_fn(out if raw else as_matrix(out), Y).sum()
                        values[i, j] = total * land._scale
                    bar.update(len(betas))
        finally:
            del sub.forward
    return values
