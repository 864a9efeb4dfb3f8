"""Thesis ch. 3, Theorem 3.4.9: paths for linearly independent training data (rank X = N).

With rank [X, 1] = N, a strictly increasing piecewise-linear activation onto R (leaky ReLU,
Assumption 3.4.1) and full-row-rank weights W_2..W_L (Property 3.4.5; generic for a
pyramidal net n_1 > ... > n_L), the first layer can realise any change of the network's
output: the inverse map h of L3.4.6 pulls an output matrix back through
sigma^{-1} and the right inverses of W_L, ..., W_2 to the first-layer parameters.

- :func:`output_descent` [derived form of NG-A5's last step]: the output moves on the
  straight line F_L(t) = (1 - t) F_L(theta) + t Y, so the square loss is (1 - t)^2
  L(theta); only the first layer moves, and it moves along a polygon whose corners are
  where some hidden feature crosses 0 (sigma^{-1} is piecewise linear), so the path is
  exactly a polygon and :func:`valleys.paths.certify` proves it with its exact kind.
- :func:`output_connect` [derived form of NG-A5]: between any two points theta_a, theta_b
  (both with Property 3.4.5), layers 2..L move on the straight line, the output moves on
  the straight line F_L(s) = (1 - s) F_L^a + s F_L^b (so the square loss is a convex
  parabola in s, <= max(L_a, L_b)) and the lower features are interpolated and corrected
  top-down through the right inverses; the curve is replaced by an inscribed polygon whose
  chords are refined until each stays exactly in {L <= max(L_a, L_b)} (T3.4.9 (1)).
- :func:`kernel_ray`: a straight unbounded ray in the first-layer parameters along
  ker [X, 1] (dimension d + 1 - N >= 1), on which every pre-activation, hence the loss, is
  constant: a level-set component is unbounded (T3.4.9 (2)).
- :func:`rescaling_ray`: the thesis' ray c(lambda) = (h((lambda W_2, b_2), F_2(theta)),
  (lambda W_2, b_2), ...), lambda >= 1, which for a positively homogeneous sigma is
  (W_1 / lambda, b_1 / lambda, lambda W_2, ...): a curve (checked at points).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..._validation import check_float, check_int
from ...curvature.rank import numerical_rank
from ...errors import DataError, InvalidParameterError, ModelError
from ...nets.models import MLP
from ...nets.netspec import piecewise_kind
from ...paths.chords import ChordTest, inscribe
from ...paths.constructed import ConstructedPath
from ...paths.path import Path, Segment

if TYPE_CHECKING:
    from ...core import Landscape

__all__ = ["independent_parts", "output_descent", "output_connect", "kernel_ray", "rescaling_ray"]


def independent_parts(land: Landscape, theta, /, *, tau: float = 1e-10) -> dict:
    """Blocks, slopes and the checked hypotheses of T3.4.9 for ``land`` at ``theta``.

    Args:
        land: a biased leaky-ReLU MLP landscape with the squared loss.
        theta: the point.
        tau: relative singular-value threshold of the rank checks.

    Returns:
        ``{"blocks", "slopes", "X1", "L", "ranks"}``: float64 parameter blocks, the activations'
        negative slopes, [X, 1], the depth and the ranks of W_2..W_L.

    Raises:
        ModelError: not a biased valleys MLP with squared loss and strictly increasing
            piecewise-linear activations (leaky ReLU, identity).
        DataError: rank [X, 1] < N (the data are not linearly independent).
        InvalidParameterError: some W_l, l >= 2, is not of full row rank at theta.
    """
    where = "literature.nguyen2019.independent"
    tau = check_float(tau, "tau", where, min_val=0.0, max_val=1.0)
    module = getattr(land, "module", None)
    if not isinstance(module, MLP) or not module.bias or land.loss_fn is None \
            or land.loss_fn.name not in ("squared", "half_squared"):
        msg = "T3.4.9 paths need a biased valleys MLP (valleys.nets.mlp) with the squared loss."
        raise ModelError(msg)
    slopes = []
    for act in module.acts:
        kind = piecewise_kind(act)
        if kind is None or kind[0] != "pl" or not float(kind[1]) > 0:
            msg = (f"T3.4.9 needs a strictly increasing piecewise-linear activation onto R (Assumption 3.4.1: "
                   f"leaky ReLU). Got {act.name!r}.")
            raise ModelError(msg)
        slopes.append(float(kind[1]))
    X = land.inputs().to(torch.float64)
    N = X.shape[0]
    X1 = torch.cat([X, torch.ones(N, 1, dtype=torch.float64)], 1)
    rank_x1 = numerical_rank(torch.linalg.svdvals(X1), tau=tau, warn=False).count
    if rank_x1 < N:
        msg = (f"T3.4.9 needs linearly independent data: rank [X, 1] = N = {N}. Got rank "
               f"{rank_x1} (use N <= d generic points).")
        raise DataError(msg)
    blocks = {k: v.to(torch.float64).clone()
              for k, v in land.layout.unflatten(torch.as_tensor(theta, dtype=land.dtype)).items()}
    L = module.depth
    ranks = []
    for k in range(2, L + 1):
        W = blocks[f"W{k}"]
        r = numerical_rank(torch.linalg.svdvals(W), tau=tau, warn=False).count
        ranks.append(r)
        if r < W.shape[0]:
            msg = (f"W{k} ({W.shape[0]} x {W.shape[1]}) has rank {r} < {W.shape[0]} at theta: Property 3.4.5 "
                   f"fails (a pyramidal net n_1 > ... > n_L has it for random weights).")
            raise InvalidParameterError(msg)
    return {"blocks": blocks, "slopes": slopes, "X1": X1, "L": L, "ranks": ranks}


def _forward(blocks, X, slopes, L):
    """Pre-activations Z_1..Z_L and features F_0 = X, F_1..F_{L-1}."""
    F, Z = [X], []
    for k in range(1, L + 1):
        z = F[-1] @ blocks[f"W{k}"].T + blocks[f"b{k}"]
        Z.append(z)
        if k < L:
            F.append(torch.where(z >= 0, z, slopes[k - 1] * z))
    return Z, F


def _inv(f: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(f >= 0, f, f / slope)


def output_descent(land: Landscape, theta, /, *, target: torch.Tensor | None = None,
                   tau: float = 1e-10) -> ConstructedPath:
    """NG-T3.4.9 (1): a polygon from theta along which the output moves straight to ``target``.

    The output F_L(t) = F_L + t (Y - F_L) is pulled back layer by layer:
    F_{l-1}(t) = F_{l-1} + (Z_l(t) - Z_l) (W_l^T)^+ and Z_{l-1}(t) = sigma^{-1}(F_{l-1}(t)),
    and finally [W_1 b_1](t) = [W_1 b_1] + ((Z_1(t) - Z_1)^T [X, 1]^{+T}); only the first
    layer moves. Every map is affine in t between the breakpoints where an entry of some
    F_l(t) crosses 0, so the path is exactly the polygon through those breakpoints.

    Args:
        land: a biased leaky-ReLU MLP landscape with squared loss and rank [X, 1] = N.
        theta: the start (W_l of full row rank for l >= 2).
        target: the output matrix to reach (default: the targets Y, loss 0).
        tau: relative singular-value threshold of the rank checks.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` ending at loss(target).
    """
    parts = independent_parts(land, theta, tau=tau)
    blocks, slopes, X1, L = parts["blocks"], parts["slopes"], parts["X1"], parts["L"]
    X = X1[:, :-1]
    Y = land.targets().to(torch.float64)
    Y = Y if Y.ndim == 2 else Y[:, None]
    T = Y if target is None else torch.as_tensor(target, dtype=torch.float64).reshape(Y.shape)
    Z, F = _forward(blocks, X, slopes, L)
    pinvs = {k: torch.linalg.pinv(blocks[f"W{k}"].T) for k in range(2, L + 1)}  # (n_k, n_{k-1})
    X1p = torch.linalg.pinv(X1)  # (d + 1, N)
    D = T - Z[-1]

    def pull(t: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Features F_{L-1}(t)..F_1(t) (as a list from layer L-1 down) and Z_1(t)."""
        feats = []
        dz = t * D  # Z_L(t) - Z_L
        for k in range(L, 1, -1):
            f = F[k - 1] + dz @ pinvs[k]
            feats.append(f)
            z = _inv(f, slopes[k - 2])
            dz = z - Z[k - 2]
        return feats, Z[0] + dz

    # breakpoints: recursively, entries of F_l(t) affine on each piece cross 0
    def breakpoints(lo: float, hi: float, level: int, out: list[float]) -> None:
        if level == 0:
            return
        a, b = pull(lo)[0][L - 1 - level], pull(hi)[0][L - 1 - level]
        # on (lo, hi) the pattern of levels above is fixed, so F_level is affine: find its zeros
        da = (b - a).reshape(-1)
        a_ = a.reshape(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (-a_ / da).numpy()
        s = lo + r * (hi - lo)
        cuts = np.unique(s[np.isfinite(s) & (s > lo) & (s < hi)])
        knots = [lo, *cuts.tolist(), hi]
        for x0, x1 in zip(knots[:-1], knots[1:], strict=True):
            if x1 > x0:
                breakpoints(x0, x1, level - 1, out)
        out.extend(cuts.tolist())

    cuts: list[float] = []
    breakpoints(0.0, 1.0, L - 1, cuts)
    ts = sorted({0.0, 1.0, *cuts})
    base = land.layout.flatten({k: v.to(land.dtype) for k, v in blocks.items()})
    points = []
    for t in ts:
        _, z1 = pull(t)
        new = dict(blocks)
        P = X1p @ (z1 - Z[0])  # (d + 1, n_1)
        new["W1"] = blocks["W1"] + P[:-1].T
        new["b1"] = blocks["b1"] + P[-1]
        points.append(land.layout.flatten({k: v.to(land.dtype) for k, v in new.items()}))
    points[0] = base
    segs = [Segment(points[i], points[i + 1], None,
                    f"output straight to the target, piece {i} (first layer, h of L3.4.6)")
            for i in range(len(points) - 1)]
    end = points[-1]
    target_loss = float(land._scale * ((T - Y) ** 2).sum()) * (0.5 if land.loss_fn.name == "half_squared" else 1.0)
    return ConstructedPath(Path(segs), end, float(land.loss(end)), target_loss,
                           {"breakpoints": len(ts) - 2, "ranks_W2_to_WL": parts["ranks"]})


def output_connect(land: Landscape, theta_a, theta_b, /, *, chords: int = 8, max_chords: int = 4096,
                   chord_rtol: float = 1e-10, rank_rtol: float = 1e-6, tau: float = 1e-10) -> ConstructedPath:
    """NG-T3.4.9 (1): a polygon from theta_a to theta_b inside {L <= max(L(theta_a), L(theta_b))}.

    The curve: with lambda in [0, 1], (W_l, b_l) = (1 - lambda) theta_a's + lambda theta_b's for
    l >= 2; Z_L = (1 - lambda) F_L^a + lambda F_L^b; for l = L .. 2, with
    G = (1 - lambda) F_{l-1}^a + lambda F_{l-1}^b, F_{l-1} = G + (Z_l - 1 b_l^T - G W_l^T)(W_l^T)^+
    and Z_{l-1} = sigma^{-1}(F_{l-1}); the first layer is interpolated likewise and corrected
    by [X, 1]^+. Along it the output is exactly affine in lambda, so the loss is a convex
    parabola <= max(L_a, L_b); the polygon through its points is refined until the exact
    maximum of the loss on every chord is <= max(L_a, L_b) + chord_rtol max(1, L).

    Args:
        land: as in :func:`output_descent`.
        theta_a: the start (Property 3.4.5: W_2..W_L of full row rank).
        theta_b: the end (Property 3.4.5).
        chords: initial chords.
        max_chords: most chords.
        chord_rtol: relative slack allowed above max(L_a, L_b) on a chord.
        rank_rtol: W_l(lambda) must keep sigma_min >= rank_rtol sigma_max on the straight
            line of the upper layers (checked at every chord end), else InvalidParameterError.
        tau: as in :func:`independent_parts`.

    Returns:
        A :class:`~valleys.paths.ConstructedPath` with ``info`` level, chords, max_chords_hit and
        min_rank_ratio.

    Raises:
        InvalidParameterError: a W_l loses full row rank on the straight line, or bad chord
            counts / tolerances, or as :func:`independent_parts`.
        ModelError: as :func:`independent_parts`.
        DataError: as :func:`independent_parts`.
    """
    where = "output_connect"
    chords = check_int(chords, "chords", where, min_val=1)
    max_chords = check_int(max_chords, "max_chords", where, min_val=chords)
    chord_rtol = check_float(chord_rtol, "chord_rtol", where, min_val=0.0)
    rank_rtol = check_float(rank_rtol, "rank_rtol", where, min_val=0.0, max_val=1.0)
    pa = independent_parts(land, theta_a, tau=tau)
    pb = independent_parts(land, theta_b, tau=tau)
    slopes, X1, L = pa["slopes"], pa["X1"], pa["L"]
    X = X1[:, :-1]
    ba, bb = pa["blocks"], pb["blocks"]
    Za, Fa = _forward(ba, X, slopes, L)
    Zb, Fb = _forward(bb, X, slopes, L)
    X1p = torch.linalg.pinv(X1)
    Pa = torch.cat([ba["W1"].T, ba["b1"][None]], 0)
    Pb = torch.cat([bb["W1"].T, bb["b1"][None]], 0)
    worst = [1.0]

    def at(lam: float) -> torch.Tensor:
        new = {k: (1 - lam) * ba[k] + lam * bb[k] for k in ba}
        z = (1 - lam) * Za[-1] + lam * Zb[-1]
        for k in range(L, 1, -1):
            W = new[f"W{k}"]
            sv = torch.linalg.svdvals(W)
            worst[0] = min(worst[0], float(sv[-1] / sv[0]))
            if not float(sv[-1]) > rank_rtol * float(sv[0]):
                msg = (f"W{k} loses full row rank on the straight line between the two points (sigma_min / "
                       f"sigma_max = {float(sv[-1] / sv[0]):.2e} at lambda = {lam:.3g}); pick other points.")
                raise InvalidParameterError(msg)
            G = (1 - lam) * Fa[k - 1] + lam * Fb[k - 1]
            f = G + (z - new[f"b{k}"] - G @ W.T) @ torch.linalg.pinv(W.T)
            z = _inv(f, slopes[k - 2])
        base = (1 - lam) * Za[0] + lam * Zb[0]
        P = (1 - lam) * Pa + lam * Pb + X1p @ (z - base)
        new["W1"], new["b1"] = P[:-1].T.contiguous(), P[-1].clone()
        return land.layout.flatten({k: v.to(land.dtype) for k, v in new.items()})

    start = land.layout.flatten({k: v.to(land.dtype) for k, v in ba.items()})
    end = land.layout.flatten({k: v.to(land.dtype) for k, v in bb.items()})
    La, Lb = float(land.loss(start)), float(land.loss(end))
    level = max(La, Lb)
    tol = chord_rtol * max(1.0, level)
    test = ChordTest(land)

    def curve(lam: float) -> torch.Tensor:
        return end if lam >= 1.0 else at(lam)

    segs, count, hit = inscribe(curve, start, lambda P, Q: test.peak(P, Q) <= level + tol, chords=chords,
                                max_chords=max_chords, label="layers 2..L straight, output straight (h)")
    return ConstructedPath(Path(segs), end, Lb, None,
                           {"level": level, "chords": count, "max_chords_hit": hit,
                            "min_rank_ratio": worst[0]})


def kernel_ray(land: Landscape, theta, length: float, /, *, seed: int = 0, tau: float = 1e-10) -> Path:
    """A straight ray theta -> theta + length * e in the first layer with [X, 1] e_rows = 0.

    e = r z^T / ||r z^T|| with z a unit vector of ker [X, 1] (the right singular vector of
    its smallest singular value; d + 1 > N) and r a random direction over the units. All
    pre-activations, hence the output and the loss, are constant along it.

    Args:
        land: as in :func:`output_descent`, with N < d + 1.
        theta: the start.
        length: the ray's length (> 0).
        seed: seed of the direction over the units.
        tau: as in :func:`independent_parts`.

    Returns:
        The one-segment :class:`~valleys.paths.Path`.

    Raises:
        DataError: ker [X, 1] is trivial (N >= d + 1), or as :func:`independent_parts`.
        InvalidParameterError: length <= 0, or as :func:`independent_parts`.
        ModelError: as :func:`independent_parts`.
    """
    length = check_float(length, "length", "kernel_ray", min_val=0.0, open_min=True)
    parts = independent_parts(land, theta, tau=tau)
    X1 = parts["X1"]
    if X1.shape[1] <= X1.shape[0]:
        msg = f"ker [X, 1] is trivial: N = {X1.shape[0]} >= d + 1 = {X1.shape[1]}. Use N <= d."
        raise DataError(msg)
    _, _, Vh = torch.linalg.svd(X1)
    z = Vh[-1]
    z = z - torch.linalg.pinv(X1) @ (X1 @ z)  # one refinement step
    z = z / z.norm()
    gen = torch.Generator().manual_seed(int(seed))
    n1 = parts["blocks"]["W1"].shape[0]
    r = torch.randn(n1, generator=gen, dtype=torch.float64)
    r = r / r.norm()
    E = torch.outer(r, z)
    step = {k: torch.zeros_like(v) for k, v in parts["blocks"].items()}
    step["W1"], step["b1"] = E[:, :-1], E[:, -1]
    th = torch.as_tensor(theta, dtype=land.dtype)
    direction = land.layout.flatten({k: v.to(land.dtype) for k, v in step.items()})
    return Path([Segment(th, th + length * direction, None, f"ker [X, 1] ray of length {length:g}")])


def rescaling_ray(land: Landscape, theta, lam: float, /) -> torch.Tensor:
    """The thesis' ray point c(lambda) = (W_1 / lambda, b_1 / lambda, lambda W_2, b_2, ...), lambda > 0.

    For positively homogeneous leaky ReLU this is h((lambda W_2, b_2), F_2(theta)) applied
    to theta's own first layer: F_1 scales by 1 / lambda, so F_1 (lambda W_2)^T is unchanged.

    Args:
        land: as in :func:`output_descent`.
        theta: the start (lambda = 1).
        lam: lambda > 0.

    Returns:
        The point c(lambda).

    Raises:
        ModelError: no hidden layer, or as :func:`independent_parts`.
        InvalidParameterError: lam <= 0, or as :func:`independent_parts`.
        DataError: as :func:`independent_parts`.
    """
    lam = check_float(lam, "lam", "rescaling_ray", min_val=0.0, open_min=True)
    parts = independent_parts(land, theta)
    if parts["L"] < 2:
        msg = "The rescaling ray needs at least one hidden layer."
        raise ModelError(msg)
    blocks = parts["blocks"]
    new = dict(blocks)
    new["W1"], new["b1"], new["W2"] = blocks["W1"] / lam, blocks["b1"] / lam, blocks["W2"] * lam
    return land.layout.flatten({k: v.to(land.dtype) for k, v in new.items()})
