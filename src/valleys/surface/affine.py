r"""Planes of layered networks with the first layer computed once for the whole grid.

On a plane :math:`\theta(\alpha, \beta) = \theta_0 + \alpha D_1 + \beta D_2` the first
layer's weights are affine in :math:`(\alpha, \beta)`, and so is its output:

.. math::  X W_1(\alpha, \beta)^\top + b_1(\alpha, \beta)
           = A_0 + \alpha A_1 + \beta A_2,\qquad A_j = X W_1^{(j)\top} + b_1^{(j)},

with :math:`(W_1^{(j)}, b_1^{(j)})` the first-layer blocks of :math:`\theta_0, D_1, D_2`.
The three products are computed once; each grid point then pays two scaled additions
instead of an (N, m_0) x (m_0, m_1) product. The deeper layers are evaluated for a chunk of
points at a time with batched products. This applies to any landscape whose network has
a :class:`~valleys.nets.netspec.NetSpec` (valleys MLPs and ``nn.Sequential`` stacks of
``nn.Linear`` and elementwise activations) and whose loss is its data loss; the values
equal direct evaluation up to rounding (tested), and ``benchmarks/surface.py`` measures
the gain.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.checks import as_matrix
from ..core.losses import TorchLoss
from ..nets.netspec import net_spec


def affine_plane_losses(land, spec, origin: torch.Tensor, D: torch.Tensor, coords: list[np.ndarray],
                        chunk: int) -> np.ndarray:
    """Losses on the grid ``coords`` (two coordinate arrays) of the plane origin + a D_0 + b D_1.

    Returns an array of shape ``(len(coords[1]), len(coords[0]))`` like
    :func:`valleys.surface.slices._evaluate`.
    """
    xs = torch.as_tensor(np.asarray(coords[0]), dtype=land.dtype)
    ys = torch.as_tensor(np.asarray(coords[1]), dtype=land.dtype)
    grid_a = xs[None, :].expand(len(ys), -1).reshape(-1)
    grid_b = ys[:, None].expand(-1, len(xs)).reshape(-1)
    blocks = [land.layout.unflatten(v) for v in (origin, D[0], D[1])]
    layers = [[spec.layer(b, k) for b in blocks] for k in range(spec.depth)]
    raw = isinstance(land.loss_fn, TorchLoss)
    out = torch.empty(grid_a.numel(), dtype=torch.float64)
    with torch.no_grad():
        totals = torch.zeros(grid_a.numel(), dtype=land.dtype)
        for X, Y in land.batches:
            first = [_affine(X, W, b) for W, b in layers[0]]
            if int(X.shape[0]) * max(W.shape[0] for (W, _), _, _ in layers) >= LOOP_ABOVE:
                for i in range(grid_a.numel()):  # large products: one point at a time (mm beats bmm)
                    totals[i] += _point_loss(land, spec, layers, first, float(grid_a[i]), float(grid_b[i]),
                                             Y, raw)
                continue
            for s in range(0, grid_a.numel(), chunk):
                a, c = grid_a[s:s + chunk], grid_b[s:s + chunk]
                Z = first[0] + a[:, None, None] * first[1] + c[:, None, None] * first[2]
                for k in range(1, spec.depth):
                    H = spec.acts[k - 1](Z)
                    (W0, b0), (W1, b1), (W2, b2) = layers[k]
                    W = W0 + a[:, None, None] * W1 + c[:, None, None] * W2
                    Z = torch.bmm(H, W.transpose(1, 2))
                    if b0 is not None:
                        Z = Z + (b0 + a[:, None] * b1 + c[:, None] * b2)[:, None, :]
                P, n, m = Z.shape
                flat = Z.reshape(P * n, m)
                Yp = Y.repeat(P, *([1] * (Y.ndim - 1)))
                values = land.loss_fn(flat if raw else as_matrix(flat), Yp).reshape(P, n).sum(1)
                totals[s:s + P] += values
        out[:] = (totals * land._scale).to(torch.float64)
    return out.numpy().reshape(len(ys), len(xs))


LOOP_ABOVE = 2 ** 14
"""Samples x widest layer from which the deeper layers run one grid point at a time with
matrix products (on CPUs a batched product of many such blocks is slower than a loop)."""


def _point_loss(land, spec, layers, first, a: float, c: float, Y: torch.Tensor, raw: bool) -> torch.Tensor:
    """Summed loss of one grid point (a, c) over one data batch."""
    Z = torch.add(first[0], first[1], alpha=a).add_(first[2], alpha=c)
    for k in range(1, spec.depth):
        H = spec.acts[k - 1](Z)
        (W0, b0), (W1, b1), (W2, b2) = layers[k]
        W = torch.add(W0, W1, alpha=a).add_(W2, alpha=c)
        if b0 is None:
            Z = H @ W.T
        else:
            Z = torch.addmm(torch.add(b0, b1, alpha=a).add_(b2, alpha=c), H, W.T)
    return land.loss_fn(Z if raw else as_matrix(Z), Y).sum()


def _affine(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return X @ W.T if b is None else torch.addmm(b, X, W.T)


def supports_affine_plane(land) -> object | None:
    """The landscape's NetSpec when the affine plane evaluation applies to it, else None."""
    if getattr(land, "_scalar_fn", None) != getattr(land, "_data_loss", None) or land.loss_fn is None:
        return None
    spec = net_spec(land)
    if spec is None or any(X.ndim != 2 for X, _ in land.batches):
        return None
    return spec
