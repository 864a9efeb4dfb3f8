"""The seeds' constructed descent paths, returned as :class:`~valleys.paths.Path` objects.

- :func:`vbb_two_phase` — VBB algorithm A3 (CLAIMS.md §0.3): for a one-hidden-layer
  net with p >= N units, an alignment phase at constant output followed by the convex
  descent in the output weights.
- :func:`cooper_line` — COO-C5.9: the straight line to the least-squares last layer.
- :func:`rescaled_path` — Safran–Shamir algorithm SS-A1 (§3.3): rescale the last layer
  along a given path so that the loss strictly decreases.

Each one returns a result whose ``path`` is a chain of labelled segments; pass it to
:func:`valleys.paths.certify` for a proof.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_float, check_generator, check_int
from ..critical.cooper import fibre_minimum
from ..errors import InvalidParameterError, ModelError
from ..nets.models import TwoLayer
from .path import Path, Segment, polygon


# --------------------------------------------------------------------------- VBB A3
@dataclass(frozen=True, eq=False)
class ConstructedPath:
    """A constructed path and what the construction knows about it.

    Attributes:
        path: the path (chain of labelled segments).
        end: theta at the end.
        end_loss: L(end).
        target_loss: the value the construction aims at (the convex optimum), or None.
        info: construction facts (steps, ranks, ...).
    """

    path: Path
    end: torch.Tensor
    end_loss: float
    target_loss: float | None
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"segments": len(self.path.segments), "labels": self.path.labels(),
                "end_loss": self.end_loss, "target_loss": self.target_loss, **self.info}

    def __repr__(self) -> str:
        return (f"ConstructedPath(segments={len(self.path.segments)}, end_loss={self.end_loss:.3g}, "
                f"target_loss={self.target_loss})")


def _rank(F: torch.Tensor, tau: float) -> int:
    s = torch.linalg.svdvals(F)
    return int((s > tau * s[0]).sum()) if s.numel() and s[0] > 0 else 0


def vbb_two_phase(land, theta, /, *, seed: int | torch.Generator | None = 0, tau: float = 1e-10,
                  max_tries: int = 50) -> ConstructedPath:
    """VBB algorithm A3 for a Safran–Shamir ``TwoLayer`` net (u = v, no bias) and squared loss.

    Phase 1 (alignment, constant output): while rank Phi < min(p, N), take c in ker Phi,
    i* = argmin_{c_i != 0} |u_i / c_i|; move u to u - (u_i*/c_i*) c (Phi u unchanged,
    u_i* = 0), then move w_i* to a fresh Gaussian direction (output unchanged as u_i* = 0).
    A unit whose fresh column does not raise the rank (polynomial sigma, rank at dim*) is
    retried ``max_tries`` times, then phase 1 stops. Phase 2: u -> u* = Phi^+ y, the
    convex least-squares optimum for the final features.

    Args:
        land: a landscape of ``valleys.nets.two_layer(p, n, act, bias=False)``.
        theta: the start.
        seed: seed of the fresh directions.
        tau: relative singular-value threshold of the ranks and of the pseudo-inverse.
        max_tries: fresh directions tried per unit before phase 1 stops (3 left one of
            3000 ReLU starts of the vbb-descent-path full preset at rank N - 1).

    Returns:
        A :class:`ConstructedPath` with ``target_loss`` the least-squares optimum of the
        final features.
    """
    where = "paths.vbb_two_phase"
    if not isinstance(land.module, TwoLayer) or land.module.bias:
        msg = "vbb_two_phase needs a landscape of valleys.nets.two_layer(p, n, activation, bias=False)."
        raise ModelError(msg)
    tau = check_float(tau, "tau", where, min_val=0.0, max_val=1.0, open_min=True)
    max_tries = check_int(max_tries, "max_tries", where, min_val=1)
    gen = check_generator(seed, where)
    lay = land.layout
    th = torch.as_tensor(theta, dtype=land.dtype).clone()
    X, y = land.inputs(), land.targets().reshape(-1)
    act = land.module.act
    W = th[lay.slice("W")].reshape(lay.shapes[lay.names.index("W")]).clone()
    u = th[lay.slice("v")].clone()
    p, N = W.shape[0], X.shape[0]
    F = act(X @ W.T)
    segments, steps, stalled = [], 0, False

    def pack(W_, u_):
        out = th.clone()
        out[lay.slice("W")] = W_.reshape(-1)
        out[lay.slice("v")] = u_
        return out

    goal = min(p, N)
    rank = _rank(F, tau)
    while rank < goal and not stalled:
        _, _, Vh = torch.linalg.svd(F)
        c = Vh[-1]  # a kernel vector (rank < p)
        big = c.abs() > 1e-8 * c.abs().max()
        ratios = torch.where(big, (u / torch.where(big, c, torch.ones_like(c))).abs(),
                             torch.full_like(u, math.inf))
        i = int(torch.argmin(ratios))
        u_new = u - (u[i] / c[i]) * c
        u_new[i] = 0.0
        segments.append(Segment(pack(W, u), pack(W, u_new), None, f"align {steps}: u in ker Phi"))
        u = u_new
        for _ in range(max_tries):
            w_new = torch.randn(W.shape[1], generator=gen, dtype=land.dtype) / math.sqrt(W.shape[1])
            F_try = F.clone()
            F_try[:, i] = act(X @ w_new)
            if _rank(F_try, tau) > rank:
                break
        else:
            stalled = True
        W_new = W.clone()
        W_new[i] = w_new
        segments.append(Segment(pack(W, u), pack(W_new, u), None, f"align {steps}: new w_{i}"))
        W, F = W_new, act(X @ W_new.T)
        rank = _rank(F, tau)
        steps += 1
    u_star = torch.linalg.pinv(F, rtol=tau) @ y
    segments.append(Segment(pack(W, u), pack(W, u_star), None, "descent: u -> u* (convex)"))
    end = pack(W, u_star)
    target = float(land._scale * ((F @ u_star - y) ** 2).sum())
    return ConstructedPath(_path(segments), end, float(land.loss(end)), target,
                           {"alignment_steps": steps, "final_rank": rank, "goal_rank": goal,
                            "stalled": stalled})


def _path(segments: list[Segment]) -> Path:
    return Path(segments)


# ------------------------------------------------------------------------- COO-C5.9
def cooper_line(land, theta, /, *, tau: float = 1e-10) -> ConstructedPath:
    """COO-C5.9: the straight line from theta to (p_I, least-squares last layer).

    With full-rank last-hidden features (m_{l-1} >= n) the end is a global minimum
    (L = 0) and L(t) = (1 - t)^2 L(theta) along the line.
    """
    fm = fibre_minimum(land, torch.as_tensor(theta, dtype=land.dtype), tau=tau)
    start = torch.as_tensor(theta, dtype=land.dtype)
    path = Path([Segment(start, fm.theta, None, "line to the least-squares last layer")])
    return ConstructedPath(path, fm.theta, fm.loss, 0.0 if fm.rank_augmented.rank == land.n_samples else None,
                           {"rank": fm.rank.rank, "rank_augmented": fm.rank_augmented.rank})


# --------------------------------------------------------------------------- SS-A1
@dataclass(frozen=True, eq=False)
class RescaledPath:
    """Safran–Shamir algorithm SS-A1: a path with its last layer rescaled by c(lambda).

    Attributes:
        path: the polygon through the rescaled grid points.
        lam: the grid lambda_0..lambda_K.
        c: the scale of the last layer at each grid point.
        target: T(lambda), the strictly decreasing target losses.
        losses: the loss at the rescaled grid points.
        condition2: L(P(W0)) > L(0) held (hypothesis 2 of SS-T1).
        condition1: a bracket was found at every grid point (hypothesis 1, numerically).
    """

    path: Path | None
    lam: np.ndarray
    c: np.ndarray
    target: np.ndarray
    losses: np.ndarray
    condition1: bool
    condition2: bool

    def to_dict(self) -> dict:
        return {"condition1": self.condition1, "condition2": self.condition2,
                "grid": len(self.lam), "c_min": float(np.min(self.c)) if len(self.c) else None,
                "c_max": float(np.max(self.c)) if len(self.c) else None}


def rescaled_path(land, points, /, *, last: str, eta_frac: float = 0.5, c_max: float = 1e6,
                  bisect_steps: int = 200) -> RescaledPath:
    """SS-A1 on a discretised path ``points`` (K + 1, d) from W0 to W1 (CLAIMS.md §3.3).

    For each grid point, g(c) = L(c P_lambda) is convex in c; with h(lambda) = min_c g,
    H the non-increasing envelope max_{lambda' >= lambda} h, and
    T(lambda) = max((1 - lambda) L0 + lambda L1, H(lambda) + eta (1 - lambda)),
    c(lambda) is the root of g(c) = T(lambda) on the increasing branch (bisection). The
    returned polygon joins the rescaled points.

    Args:
        land: a landscape whose output is linear in the block ``last`` (a last layer
            without bias, as in SS: O_h = W_h O_{h-1}); scaling it by c scales the outputs.
        points: the grid points of the given path, W0 first.
        last: the name of the last-layer block.
        eta_frac: eta = eta_frac * (L0 - H(0)), in (0, 1).
        c_max: the largest scale searched for a bracket.
        bisect_steps: bisection steps per grid point.

    Returns:
        A :class:`RescaledPath`; ``path`` is None when hypothesis 2 fails (L0 <= L(0)),
        in which case SS-T1 does not apply (NG-1.2).
    """
    where = "paths.rescaled_path"
    eta_frac = check_float(eta_frac, "eta_frac", where, min_val=0.0, max_val=1.0, open_min=True)
    P = torch.as_tensor(points, dtype=land.dtype)
    if P.ndim != 2 or P.shape[0] < 2 or P.shape[1] != land.dim:
        msg = f"points must have shape (K + 1, {land.dim}) with K >= 1. Got {tuple(P.shape)}."
        raise InvalidParameterError(msg)
    sl = land.layout.slice(last)
    K = P.shape[0]
    lam = np.linspace(0.0, 1.0, K)

    def g(cs: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        Q = P[rows].clone()
        Q[:, sl] = Q[:, sl] * cs[:, None]
        return land.losses(Q)

    rows = torch.arange(K)
    L0, L1 = float(land.loss(P[0])), float(land.loss(P[-1]))
    zero = P[0].clone()
    zero[sl] = 0.0
    L_zero = float(land.loss(zero))
    if not L0 > L_zero:
        return RescaledPath(None, lam, np.ones(K), np.full(K, L0), np.full(K, L0), False, False)
    # h(lambda) = min_{c >= 0} g: golden-section on [0, c_hi] for the convex g
    lo = torch.zeros(K, dtype=land.dtype)
    hi = torch.full((K,), 2.0, dtype=land.dtype)
    while True:  # grow hi until g is increasing there
        grow = g(hi * 1.01, rows) < g(hi, rows)
        if not bool(grow.any()) or float(hi.max()) > c_max:
            break
        hi = torch.where(grow, hi * 2, hi)
    a, b = lo.clone(), hi.clone()
    for _ in range(bisect_steps):
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        left = g(m1, rows) < g(m2, rows)
        b = torch.where(left, m2, b)
        a = torch.where(left, a, m1)
    c_star = 0.5 * (a + b)
    h = g(c_star, rows).numpy()
    H = np.maximum.accumulate(h[::-1])[::-1]
    eta = eta_frac * (L0 - H[0])
    T = np.maximum((1 - lam) * L0 + lam * L1, H + eta * (1 - lam))
    T[0], T[-1] = L0, max(L1, T[-1])
    # root of g(c) = T on c >= c*: bracket [c*, c_hi] then bisect
    Tt = torch.as_tensor(T, dtype=land.dtype)
    top = torch.maximum(c_star * 2, torch.ones_like(c_star))
    while True:
        short = g(top, rows) < Tt
        if not bool(short.any()) or float(top.max()) > c_max:
            break
        top = torch.where(short, top * 2, top)
    bracket = bool((g(top, rows) >= Tt).all())
    a, b = c_star.clone(), top.clone()
    for _ in range(bisect_steps):
        mid = 0.5 * (a + b)
        below = g(mid, rows) < Tt
        a = torch.where(below, mid, a)
        b = torch.where(below, b, mid)
    c = 0.5 * (a + b)
    c[0] = 1.0  # L(P_0) > L(0) puts c = 1 on the increasing branch with T(0) = L0
    Q = P.clone()
    Q[:, sl] = Q[:, sl] * c[:, None]
    losses = land.losses(Q).numpy()
    return RescaledPath(polygon(Q, knots=lam, labels=[f"rescaled {k}" for k in range(K - 1)]),
                        lam, c.numpy(), T, losses, bracket, True)


# ---------------------------------------------------------------- Nguyen ch. 3 paths
def _mlp_parts(land):
    from ..nets.models import MLP

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


def nguyen_descent(land, theta, /, *, seed: int | torch.Generator | None = 0, tau: float = 1e-10,
                   max_tries: int = 20) -> ConstructedPath:
    """NG-T3.4.17 part 1 (algorithm NG-A7): a descent path to the least-squares optimum for widths >= N.

    Layer by layer, L3.4.14: keep an independent set of columns of F_k (pivoted QR), move
    the outgoing weights of the other units onto it (L3.4.10, output constant), then give
    the freed units fresh incoming weights and biases (output constant: their outgoing
    weights are 0) until rank F_k = N. Finally the last layer moves on the straight line
    to [F_{L-1}, 1]^+ Y (convex in the output). Every piece is a straight segment.
    """
    L, acts = _mlp_parts(land)
    gen = check_generator(seed, "paths.nguyen_descent")
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


def nguyen_connect(land, theta, theta2, /, *, seed: int | torch.Generator | None = 0,
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
    """
    L, acts = _mlp_parts(land)
    gen = check_generator(seed, "paths.nguyen_connect")
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
