"""Nguyen (thesis ch. 3, NG-T3.4.17): descent and connecting paths of wide biased MLPs.

- :func:`nguyen_descent`: a path from theta down to the global minimum of the squared loss
  through kernel moves and fresh units (the level-set construction of ch. 3).
- :func:`nguyen_connect`: a path joining two parameters inside the sublevel set of the
  higher end (NG-T3.4.17).

Each returns a :class:`~valleys.paths.ConstructedPath` made of labelled segments; pass its
``path`` to :func:`valleys.paths.certify` for a proof.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..._validation import check_generator
from ...errors import InvalidParameterError, ModelError
from ...paths.constructed import ConstructedPath
from ...paths.path import Path, Segment

if TYPE_CHECKING:
    from ...core import Landscape


# ---------------------------------------------------------------- Nguyen ch. 3 paths
def _mlp_parts(land):
    from ...nets.models import MLP

    if not isinstance(land.module, MLP) or not land.module.bias or land.loss_fn.name not in ("squared", "half_squared"):
        msg = "The thesis ch. 3 constructions need a biased valleys MLP with the squared loss."
        raise ModelError(msg)
    return land.module.depth, land.module.acts


def _blocks(land, theta) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in land.layout.unflatten(theta.to(land.dtype)).items()}


def _features(blocks, X, acts, L) -> list[torch.Tensor]:
    F = [X]
    for k in range(1, L):
        F.append(acts[k - 1](F[-1] @ blocks[f"W{k}"].T + blocks[f"b{k}"]))
    return F


def _independent(F: torch.Tensor, tau: float) -> list[int]:
    """Indices of rank F columns of F that span its column space (pivoted QR)."""
    from scipy.linalg import qr

    if F.shape[1] == 0:
        return []
    _, R, piv = qr(F.numpy(), pivoting=True, mode="economic")
    diag = np.abs(np.diag(R))
    r = int((diag > tau * max(diag[0], 1e-300)).sum()) if diag.size else 0
    return sorted(int(i) for i in piv[:r])


def _kernel_move(blocks, F, k, keep, tau):
    """L3.4.10: move the outgoing weights of layer-k units outside ``keep`` onto ``keep`` (FW constant)."""
    n = F.shape[1]
    drop = [j for j in range(n) if j not in set(keep)]
    if not drop:
        return blocks
    E = torch.linalg.pinv(F[:, keep], rtol=tau) @ F[:, drop]  # F[:, keep] E = F[:, drop]
    new = {n_: v.clone() for n_, v in blocks.items()}
    Wout = new[f"W{k + 1}"]
    Wout[:, keep] = Wout[:, keep] + Wout[:, drop] @ E.T
    Wout[:, drop] = 0.0
    return new


class _Recorder:
    def __init__(self, land, theta):
        self.land, self.points, self.labels = land, [theta.clone()], []

    def add(self, blocks, label):
        theta = self.land.layout.flatten(blocks)
        if not torch.equal(theta, self.points[-1]):
            self.points.append(theta)
            self.labels.append(label)

    def path(self) -> Path:
        if len(self.points) == 1:
            self.points.append(self.points[0].clone())
            self.labels.append("stay")
        segs = [Segment(a, b, None, lab) for a, b, lab in zip(self.points[:-1], self.points[1:], self.labels,
                                                              strict=True)]
        return Path(segs)


def nguyen_descent(land: Landscape, theta, /, *, seed: int | torch.Generator | None = 0, tau: float = 1e-10,
                   max_tries: int = 20) -> ConstructedPath:
    """NG-T3.4.17 part 1 (algorithm NG-A7): a descent path to the least-squares optimum for widths >= N.

    Layer by layer, L3.4.14: keep an independent set of columns of F_k (pivoted QR), move
    the outgoing weights of the other units onto it (L3.4.10, output constant), then give
    the freed units fresh incoming weights and biases (output constant: their outgoing
    weights are 0) until rank F_k = N. Finally the last layer moves on the straight line
    to [F_{L-1}, 1]^+ Y (convex in the output). Every piece is a straight segment.

    Args:
        land: a biased valleys MLP landscape with the squared loss (hidden widths >= N).
        theta: the start.
        seed: seed or generator of the fresh units.
        tau: relative pivot threshold of the ranks.
        max_tries: random units tried per freed unit.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` ending at the least-squares optimum of the
        last layer, with ``info["ranks"]`` the ranks F_k reached.

    Raises:
        ModelError: not a biased MLP with the squared loss.
    """
    L, acts = _mlp_parts(land)
    gen = check_generator(seed, "nguyen_descent")
    X, Y = land.inputs(), land.targets()
    Y = Y if Y.ndim == 2 else Y[:, None]
    N = X.shape[0]
    blocks = _blocks(land, torch.as_tensor(theta, dtype=land.dtype))
    rec = _Recorder(land, land.layout.flatten(blocks))
    ranks = []
    for k in range(1, L):
        F = _features(blocks, X, acts, L)
        Fk, prev = F[k], F[k - 1]
        keep = _independent(Fk, tau)
        if len(keep) < N:
            blocks = _kernel_move(blocks, Fk, k, keep, tau)
            rec.add(blocks, f"L3.4.10 layer {k}: outgoing weights onto {len(keep)} units")
            free = [j for j in range(Fk.shape[1]) if j not in set(keep)]
            new = {n_: v.clone() for n_, v in blocks.items()}
            cols = Fk[:, keep]
            for j in free:
                if cols.shape[1] >= N:
                    break
                for _ in range(max_tries):
                    w = torch.randn(prev.shape[1], generator=gen, dtype=land.dtype)
                    pre = prev @ w
                    i = int(torch.randint(0, N, (1,), generator=gen))
                    b = -float(pre[i]) + 0.5 * float(pre.std() + 1e-3) * float(torch.rand(1, generator=gen))
                    col = acts[k - 1](pre + b)
                    trial = torch.cat([cols, col[:, None]], 1)
                    if len(_independent(trial, tau)) > cols.shape[1]:
                        new[f"W{k}"][j], new[f"b{k}"][j] = w, b
                        cols = trial
                        break
            blocks = new
            rec.add(blocks, f"L3.4.14 layer {k}: fresh units raise rank F_{k}")
        ranks.append(len(_independent(_features(blocks, X, acts, L)[k], tau)))
    F = _features(blocks, X, acts, L)[L - 1]
    A = torch.cat([F, torch.ones(N, 1, dtype=land.dtype)], 1)
    sol = torch.linalg.pinv(A, rtol=tau) @ Y
    new = {n_: v.clone() for n_, v in blocks.items()}
    new[f"W{L}"], new[f"b{L}"] = sol[:-1].T.contiguous(), sol[-1].clone()
    rec.add(new, "last layer to least squares (convex)")
    end = land.layout.flatten(new)
    target = float(land._scale * ((A @ sol - Y) ** 2).sum())
    return ConstructedPath(rec.path(), end, float(land.loss(end)), target, {"ranks": ranks})


def _fresh_units(blocks, F, k, units, have, acts, N, gen, tau, max_tries=20):
    """Give ``units`` of layer k fresh incoming weights so that F[:, have + units] reaches rank N."""
    prev = F[k - 1]
    new = {n_: v.clone() for n_, v in blocks.items()}
    cols = F[k][:, have] if have else F[k][:, :0]
    for j in units:
        for _ in range(max_tries):
            w = torch.randn(prev.shape[1], generator=gen, dtype=prev.dtype)
            pre = prev @ w
            i = int(torch.randint(0, prev.shape[0], (1,), generator=gen))
            b = -float(pre[i]) + 0.5 * float(pre.std() + 1e-3) * float(torch.rand(1, generator=gen))
            col = acts[k - 1](pre + b)
            trial = torch.cat([cols, col[:, None]], 1)
            if cols.shape[1] >= N or len(_independent(trial, tau)) > len(_independent(cols, tau)) \
                    if cols.shape[1] else float(col.norm()) > 0:
                new[f"W{k}"][j], new[f"b{k}"][j] = w, b
                cols = trial
                break
    return new


def _canonical_layer(land, blocks, k, rec, acts, gen, tau, tag):
    """Layer k carries rank-N features on its first N units, the others have zero outgoing weights."""
    X = land.inputs()
    N = X.shape[0]
    L = len(acts) + 1
    F = _features(blocks, X, acts, L)
    keep = _independent(F[k], tau)
    blocks = _kernel_move(blocks, F[k], k, keep, tau)
    rec.add(blocks, f"{tag} layer {k}: outgoing weights onto {len(keep)} independent units (L3.4.10)")
    A = list(range(N))
    free_A = [j for j in A if j not in set(keep)]
    blocks = _fresh_units(blocks, _features(blocks, X, acts, L), k, free_A, [j for j in A if j in set(keep)],
                          acts, N, gen, tau)
    rec.add(blocks, f"{tag} layer {k}: fresh units among the first N (L3.4.14)")
    F = _features(blocks, X, acts, L)
    if len(_independent(F[k][:, A], tau)) < N:
        msg = f"Layer {k}: could not reach rank N = {N} on the first N units."
        raise InvalidParameterError(msg)
    rest = [j for j in range(F[k].shape[1]) if j not in set(A)]
    blocks = _kernel_move_onto(blocks, F[k], k, A, rest, tau)
    rec.add(blocks, f"{tag} layer {k}: outgoing weights onto the first N units")
    return blocks


def nguyen_connect(land: Landscape, theta, theta2, /, *, seed: int | torch.Generator | None = 0,
                   tau: float = 1e-10) -> ConstructedPath:
    """NG-T3.4.17 part 2 [derived form of L3.4.14/L3.4.15]: a path from theta to theta2 inside
    {L <= max(L(theta), L(theta2))} for hidden widths >= 2N.

    Both points are first made canonical layer by layer (constant output): the first N
    units of layer k carry rank-N features and all outgoing weights (L3.4.10 moves plus
    fresh units, L3.4.14). Then, per layer, theta's units N.. get fresh incoming weights
    spanning R^N, the outgoing weights move onto them, the first N units copy theta2's
    (canonical) incoming weights, the outgoing weights move back, and the other units
    copy theta2's (L3.4.15's copy steps). After the hidden layers agree, the last layer
    moves on the straight line (convex in the output); the path ends with theta2's
    canonicalisation reversed. Every piece is a straight segment.

    Args:
        land: a biased valleys MLP landscape with the squared loss (hidden widths >= 2N).
        theta: the start.
        theta2: the end.
        seed: seed or generator of the fresh units.
        tau: relative pivot threshold of the ranks.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` with ``info`` level and end_error.

    Raises:
        InvalidParameterError: a hidden width < 2N, or a layer that does not reach rank N.
        ModelError: not a biased MLP with the squared loss.
    """
    L, acts = _mlp_parts(land)
    gen = check_generator(seed, "nguyen_connect")
    X = land.inputs()
    N = X.shape[0]
    widths = [land.layout.unflatten(land.theta0)[f"b{k}"].numel() for k in range(1, L)]
    if min(widths) < 2 * N:
        msg = f"nguyen_connect needs every hidden width >= 2N = {2 * N}. Got {widths}."
        raise InvalidParameterError(msg)
    th2 = torch.as_tensor(theta2, dtype=land.dtype)
    rec2 = _Recorder(land, th2.clone())
    b2 = _blocks(land, th2)
    for k in range(1, L):
        b2 = _canonical_layer(land, b2, k, rec2, acts, gen, tau, "theta2")
    rec = _Recorder(land, torch.as_tensor(theta, dtype=land.dtype).clone())
    blocks = _blocks(land, torch.as_tensor(theta, dtype=land.dtype))
    A = list(range(N))
    for k in range(1, L):
        blocks = _canonical_layer(land, blocks, k, rec, acts, gen, tau, "theta")
        B = list(range(N, widths[k - 1]))
        F = _features(blocks, X, acts, L)
        blocks = _fresh_units(blocks, F, k, B, [], acts, N, gen, tau)
        rec.add(blocks, f"layer {k}: fresh units N.. span R^N")
        F = _features(blocks, X, acts, L)
        if len(_independent(F[k][:, B], tau)) < N:
            msg = f"Layer {k}: the fresh units do not reach rank N = {N}."
            raise InvalidParameterError(msg)
        blocks = _kernel_move_onto(blocks, F[k], k, B, A, tau)
        rec.add(blocks, f"layer {k}: outgoing weights onto units N..")
        new = {n_: v.clone() for n_, v in blocks.items()}
        new[f"W{k}"][A], new[f"b{k}"][A] = b2[f"W{k}"][A], b2[f"b{k}"][A]
        rec.add(new, f"layer {k}: first N units copy theta2's (L3.4.15)")
        F = _features(new, X, acts, L)
        blocks = _kernel_move_onto(new, F[k], k, A, B, tau)
        rec.add(blocks, f"layer {k}: outgoing weights back onto the first N units")
        new = {n_: v.clone() for n_, v in blocks.items()}
        new[f"W{k}"][B], new[f"b{k}"][B] = b2[f"W{k}"][B], b2[f"b{k}"][B]
        blocks = new
        rec.add(blocks, f"layer {k}: units N.. copy theta2's")
    new = {n_: v.clone() for n_, v in blocks.items()}
    new[f"W{L}"], new[f"b{L}"] = b2[f"W{L}"].clone(), b2[f"b{L}"].clone()
    rec.add(new, "last layer to theta2's canonical form (convex)")
    for pt, lab in zip(reversed(rec2.points[:-1]), reversed(rec2.labels), strict=True):
        rec.points.append(pt)
        rec.labels.append("reverse: " + lab)
    end = rec.points[-1]
    level = max(float(land.loss(torch.as_tensor(theta, dtype=land.dtype))), float(land.loss(th2)))
    return ConstructedPath(rec.path(), end, float(land.loss(end)), None,
                           {"level": level, "end_error": float((end - th2).abs().max())})


def _kernel_move_onto(blocks, F, k, onto, drop, tau):
    """Move the outgoing weights of units ``drop`` onto units ``onto`` (col F[:, drop] in col F[:, onto])."""
    E = torch.linalg.pinv(F[:, onto], rtol=tau) @ F[:, drop]
    new = {n_: v.clone() for n_, v in blocks.items()}
    Wout = new[f"W{k + 1}"]
    Wout[:, onto] = Wout[:, onto] + Wout[:, drop] @ E.T
    Wout[:, drop] = 0.0
    return new
