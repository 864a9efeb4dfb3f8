r"""A valid bound on the second derivative of the loss along a straight piece.

On theta(tau) = A + tau (B - A), tau in [0, 1], every weight is affine in tau, so its
spectral norm is at most the larger of its norms at A and B (convexity of the norm).
With |sigma| <= s0, |sigma'| <= s1 and sigma' being s2-Lipschitz (the activation's
``sup_abs``, ``lipschitz``, ``curvature``), forward recursions bound per sample

.. math::
    \|h_k\| \le H_k,\quad \|\dot h_k\| \le \dot H_k,\quad \|\ddot h_k\| \le \ddot H_k

(``z_k = W_k h_{k-1} + b_k``; ``\dot z_k = \dot W_k h_{k-1} + W_k \dot h_{k-1} + \dot b_k``;
``\ddot z_k = 2 \dot W_k \dot h_{k-1} + W_k \ddot h_{k-1}``;
``\ddot h_k = \sigma''(z) \dot z^2 + \sigma'(z) \ddot z`` and ``\|\dot z^2\|_2 \le \|\dot z\|_2^2``),
and the loss' curvature in the outputs gives

.. math::
    |\ell''| \le 2 \dot F^2 + 2 (F + \|y\|) \ddot F \ \text{(squared)},\quad
    \tfrac12 \dot F^2 + \sqrt2\, \ddot F \ \text{(cross-entropy)},\quad
    \tfrac14 \dot F^2 + \ddot F \ \text{(logistic)}.

Hence |L''(tau)| <= M on the piece, and L(tau) <= (1 - tau) L(0) + tau L(1) + M / 8.
"""

from __future__ import annotations

import math

import torch

from ..nets.netspec import BOUND_LOSSES, RECOGNISED_TORCH_LOSSES, NetSpec


def bound_reason(spec: NetSpec | None, no_spec: str | None = None) -> str | None:
    """Why no curvature bound exists for this net (None when it does); ``no_spec`` is why
    there is no spec at all (from :func:`~valleys.nets.netspec.describe_spec`)."""
    if spec is None:
        return no_spec or "the model is not a valleys MLP / TwoLayer"
    if spec.loss not in BOUND_LOSSES:
        known = ", ".join(RECOGNISED_TORCH_LOSSES)
        return (f"no curvature bound is known for the loss {spec.loss!r}"
                + (f" (a torch loss module with no valleys equivalent; recognised: {known})"
                   if spec.unknown_torch_loss else ""))
    for act in spec.acts:
        if act.lipschitz is None or act.curvature is None:
            return f"the activation {act.name!r} has no derivative bounds (sigma' unbounded or not Lipschitz)"
    return None


def curvature_bounds(spec: NetSpec, layout, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """M_p >= sup_tau |d^2/dtau^2 L(A_p + tau (B_p - A_p))| for pieces p (rows of A, B)."""
    A = A.to(torch.float64)
    B = B.to(torch.float64)
    L = spec.depth
    first = _first_moving(spec, layout, A, B)
    X = spec.X.to(torch.float64)
    for k in range(first):  # layers that do not move: exact features (same for all pieces)
        Wa, _, ba, _ = _blocks(spec, layout, A[:1], B[:1], k)
        X = spec.acts[k](X @ Wa[0].T + (ba[0] if ba is not None else 0.0))
    h = hd = hdd = None  # bounds on the previous hidden layer (set after the first moving layer)
    for k in range(first, L):
        Wa, Wb, ba, bb = _blocks(spec, layout, A, B, k)
        if k == first:  # exact per-sample values of the first moving layer (affine in tau)
            za = X[None] @ Wa.transpose(1, 2) + (ba[:, None] if ba is not None else 0.0)
            zb = X[None] @ Wb.transpose(1, 2) + (bb[:, None] if bb is not None else 0.0)
            z = torch.maximum(za.norm(dim=2), zb.norm(dim=2)) * (1 + 1e-12)
            zd = (zb - za).norm(dim=2) * (1 + 1e-12)
            zdd = torch.zeros_like(z)
        else:
            nW = torch.maximum(_spec_norm(Wa), _spec_norm(Wb))[:, None]
            nD = _spec_norm(Wb - Wa)[:, None]
            if ba is not None:
                nb = torch.maximum(ba.norm(dim=1), bb.norm(dim=1))[:, None]
                nDb = (bb - ba).norm(dim=1)[:, None]
            else:
                nb = nDb = 0.0
            z = nW * h + nb
            zd = nD * h + nW * hd + nDb
            zdd = 2 * nD * hd + nW * hdd
        if k == L - 1:
            return _loss_bound(spec, z, zd, zdd)
        act = spec.acts[k]
        width = Wa.shape[1]
        s1, s2 = float(act.lipschitz), float(act.curvature)
        h = abs(float(act.value_at_zero)) * math.sqrt(width) + s1 * z
        if act.sup_abs is not None:
            h = torch.clamp(h, max=float(act.sup_abs) * math.sqrt(width))
        hd = s1 * zd
        hdd = s2 * zd ** 2 + s1 * zdd
    raise AssertionError("unreachable")


def _first_moving(spec: NetSpec, layout, A, B) -> int:
    """The first layer whose weights or bias differ between any A and B row."""
    for k in range(spec.depth):
        Wa, Wb, ba, bb = _blocks(spec, layout, A, B, k)
        if not torch.equal(Wa, Wb) or (ba is not None and not torch.equal(ba, bb)):
            return k
        if not (torch.equal(Wa, Wa[:1].expand_as(Wa)) and (ba is None or torch.equal(ba, ba[:1].expand_as(ba)))):
            return k  # differs between pieces: not a shared fixed layer
    return spec.depth - 1


def _loss_bound(spec: NetSpec, F, Fd, Fdd) -> torch.Tensor:
    if spec.loss in ("squared", "half_squared"):
        Y = spec.Y.to(torch.float64)
        ynorm = (Y if Y.ndim == 2 else Y[:, None]).norm(dim=1)[None, :]
        per = 2 * Fd ** 2 + 2 * (F + ynorm) * Fdd
        if spec.loss == "half_squared":
            per = 0.5 * per
    elif spec.loss == "cross_entropy":
        per = 0.5 * Fd ** 2 + math.sqrt(2.0) * Fdd
    else:  # logistic
        per = 0.25 * Fd ** 2 + Fdd
    return spec.scale * per.sum(1)


def _blocks(spec: NetSpec, layout, A, B, k):
    sl = layout.slice(spec.weights[k])
    shape = layout.shapes[layout.names.index(spec.weights[k])]
    shape = (1, shape[0]) if len(shape) == 1 else shape
    Wa = A[:, sl].reshape(-1, *shape)
    Wb = B[:, sl].reshape(-1, *shape)
    if spec.biases[k] is None:
        return Wa, Wb, None, None
    sb = layout.slice(spec.biases[k])
    return Wa, Wb, A[:, sb], B[:, sb]


def _spec_norm(W: torch.Tensor) -> torch.Tensor:
    """Spectral norms of a batch of matrices (P, m, n), rounded up by a relative 1e-12."""
    return torch.linalg.matrix_norm(W, ord=2) * (1 + 1e-12)
